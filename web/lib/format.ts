import type { Cause } from "@/lib/types";

// Every figure on screen goes through here: money as USD, shares as percentages, times in the viewer's zone.

const DASH = "—";

const dollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const cents = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 4 });
const fractions = new Intl.NumberFormat(undefined, {
  style: "currency",
  currency: "USD",
  maximumSignificantDigits: 3,
});

/** USD with as many digits as a small amount needs: one request often costs a fraction of a cent. */
export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return DASH;
  const size = Math.abs(value);
  if (size === 0) return dollars.format(0);
  if (size >= 1) return dollars.format(value);
  if (size >= 0.01) return cents.format(value);
  return fractions.format(value);
}

const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

export function pct(share: number | null | undefined): string {
  if (share === null || share === undefined || Number.isNaN(share)) return DASH;
  return percent.format(share);
}

const integer = new Intl.NumberFormat();

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : integer.format(value);
}

/** "1 request", "3 requests": a count with its noun agreeing. */
export function counted(value: number | null | undefined, noun: string): string {
  return `${count(value)} ${value === 1 ? noun : `${noun}s`}`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  return `${value < 10 ? value.toFixed(2) : integer.format(Math.round(value))} ms`;
}

const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const short = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const hour = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export function dateTime(iso: string | null | undefined): string {
  return iso ? stamp.format(new Date(iso)) : DASH;
}

/** For tables: day and minute; the full time is in the cell's title. */
export function shortDateTime(iso: string | null | undefined): string {
  return iso ? short.format(new Date(iso)) : DASH;
}

const axisMoney = new Intl.NumberFormat(undefined, {
  style: "currency",
  currency: "USD",
  notation: "compact",
  maximumSignificantDigits: 2,
});

/** Chart axes: two significant digits are enough to read a scale. */
export function usdAxis(value: number): string {
  return value === 0 ? dollars.format(0) : axisMoney.format(value);
}

export function bucketLabel(iso: string, granularity: "hour" | "day"): string {
  const date = new Date(iso);
  return granularity === "hour" ? hour.format(date) : day.format(date);
}

/** The viewer's IANA zone, which the API buckets its series by. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export const CACHE_LABELS: Record<string, string> = {
  miss: "Miss",
  t1: "Tier 1 · exact",
  t2: "Tier 2 · semantic",
  t3: "Tier 3 · prompt cache",
  bypass: "Bypass",
};

export const CAUSE_LABELS: Record<string, string> = {
  tier1: "Tier 1 · exact cache",
  tier2: "Tier 2 · semantic cache",
  tier3: "Tier 3 · provider prompt cache",
  routing: "Routing · cheaper model",
};

export const CAUSE_COLORS: Record<Cause, string> = {
  tier1: "var(--c-tier1)",
  tier2: "var(--c-tier2)",
  tier3: "var(--c-tier3)",
  routing: "var(--c-routing)",
};

export const TIER_COLORS: Record<string, string> = {
  t1: "var(--c-tier1)",
  t2: "var(--c-tier2)",
  t3: "var(--c-tier3)",
  miss: "var(--c-miss)",
  bypass: "var(--c-cost)",
};
