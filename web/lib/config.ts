// Where the API is and which key to send. Both live in this browser only (localStorage); nothing is sent
// anywhere but the API itself.

const API_URL = "asahi.apiUrl";
const API_KEY = "asahi.apiKey";
const ORG_NAME = "asahi.orgName";

/** Set at build time for a dashboard deployed apart from the API (e.g. https://api.example.com). */
export const BUILT_API_URL: string | undefined = process.env.NEXT_PUBLIC_API_URL || undefined;

export function normaliseUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/** Settings page, else the build's NEXT_PUBLIC_API_URL, else the origin that served this page. */
export function defaultApiUrl(): string {
  if (BUILT_API_URL) return normaliseUrl(BUILT_API_URL);
  return typeof window === "undefined" ? "" : window.location.origin;
}

function read(name: string): string | null {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return null; // storage disabled: the dashboard still works for this page's lifetime
  }
}

function write(name: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(name);
    else window.localStorage.setItem(name, value);
  } catch {
    // storage disabled or full: nothing to keep
  }
}

export interface Stored {
  apiUrlOverride: string | null;
  apiKey: string | null;
  orgName: string | null;
}

export function loadStored(): Stored {
  return { apiUrlOverride: read(API_URL), apiKey: read(API_KEY), orgName: read(ORG_NAME) };
}

export function saveApiUrl(url: string | null): void {
  write(API_URL, url ? normaliseUrl(url) : null);
}

export function saveKey(key: string | null, orgName: string | null = null): void {
  write(API_KEY, key);
  write(ORG_NAME, key ? orgName : null);
}

/** The public part of a key (`asahi_<prefix>_…`), safe to show. */
export function keyPrefix(key: string | null): string | null {
  const parts = key?.split("_");
  return parts && parts.length >= 3 && parts[0] === "asahi" ? (parts[1] ?? null) : null;
}
