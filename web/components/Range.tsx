"use client";

import { useId, useState } from "react";
import { viewerZone } from "@/lib/format";

export type Preset = "24h" | "7d" | "30d" | "90d" | "custom";

export interface Range {
  preset: Preset;
  from: string; // yyyy-mm-dd, custom only
  to: string;
}

export interface RangeQuery {
  since: string;
  until: string;
  granularity: "hour" | "day";
  tz: string;
  [name: string]: string;
}

const PRESETS: { value: Preset; label: string }[] = [
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
  { value: "90d", label: "90 days" },
  { value: "custom", label: "Custom" },
];

function isoDate(date: Date): string {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

function localMidnight(day: string): Date {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

/** The API query for a range: whole local days (or the last 24 hours by hour), in the viewer's zone. */
export function rangeQuery(range: Range, now: Date): RangeQuery {
  const tz = viewerZone();
  if (range.preset === "24h") {
    // to the end of the current hour, so the last bucket is whole
    const until = new Date(now);
    until.setMinutes(60, 0, 0);
    return { since: new Date(until.getTime() - 24 * 3600_000).toISOString(), until: until.toISOString(), granularity: "hour", tz };
  }
  let from: Date;
  let to: Date;
  if (range.preset === "custom" && range.from && range.to) {
    from = localMidnight(range.from);
    to = localMidnight(range.to);
  } else {
    const days = range.preset === "7d" ? 7 : range.preset === "90d" ? 90 : 30;
    to = localMidnight(isoDate(now));
    from = new Date(to);
    from.setDate(from.getDate() - (days - 1));
  }
  const until = new Date(to);
  until.setDate(until.getDate() + 1);
  return { since: from.toISOString(), until: until.toISOString(), granularity: "day", tz };
}

export function useRange(initial: Preset = "7d") {
  const today = isoDate(new Date());
  const [range, setRange] = useState<Range>({ preset: initial, from: today, to: today });
  return [range, setRange] as const;
}

export function RangePicker({ range, onChange }: { range: Range; onChange: (range: Range) => void }) {
  const id = useId();
  return (
    <div className="row">
      <fieldset className="segmented" aria-label="Date range">
        {PRESETS.map((preset) => (
          <label key={preset.value}>
            <input
              type="radio"
              name={`${id}-range`}
              value={preset.value}
              checked={range.preset === preset.value}
              onChange={() => onChange({ ...range, preset: preset.value })}
            />
            {preset.label}
          </label>
        ))}
      </fieldset>
      {range.preset === "custom" ? (
        <>
          <label className="field">
            <span>From</span>
            <input type="date" value={range.from} max={range.to} onChange={(e) => onChange({ ...range, from: e.target.value })} />
          </label>
          <label className="field">
            <span>To</span>
            <input type="date" value={range.to} min={range.from} onChange={(e) => onChange({ ...range, to: e.target.value })} />
          </label>
        </>
      ) : null}
    </div>
  );
}
