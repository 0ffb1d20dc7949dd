"use client";

import { useEffect, useState, type FormEvent } from "react";
import { useSession } from "@/components/Session";
import { ApiError, call } from "@/lib/api";
import { BUILT_API_URL, defaultApiUrl, keyPrefix } from "@/lib/config";
import type { Health } from "@/lib/types";

type KeyCheck = "accepted" | "no-analytics" | "refused" | "none";

interface Check {
  health: Health | null;
  key: KeyCheck;
  error: ApiError | null;
  at: Date;
}

export function Settings() {
  const { connection, apiUrlOverride, setApiUrl, signIn, signOut } = useSession();
  const [url, setUrl] = useState(apiUrlOverride ?? "");
  const [key, setKey] = useState("");
  const [showKey, setShowKey] = useState(false);
  const [check, setCheck] = useState<Check | null>(null);
  const [checking, setChecking] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const fallback = defaultApiUrl();

  // eslint-disable-next-line react-hooks/set-state-in-effect -- the stored URL arrives after hydration
  useEffect(() => setUrl(apiUrlOverride ?? ""), [apiUrlOverride]);

  async function runCheck() {
    setChecking(true);
    let health: Health | null = null;
    let error: ApiError | null = null;
    let keyState: KeyCheck = "none";
    try {
      health = await call<Health>({ ...connection, apiKey: null }, "/health");
      if (connection.apiKey) {
        try {
          await call(connection, "/analytics/facets", { query: { days: 1 } });
          keyState = "accepted";
        } catch (caught) {
          if (!(caught instanceof ApiError)) throw caught;
          if (caught.status === 403) keyState = "no-analytics";
          else if (caught.status === 401) keyState = "refused";
          else throw caught;
        }
      }
    } catch (caught) {
      error = caught instanceof ApiError ? caught : new ApiError(0, "unreachable", "The API could not be reached.");
    }
    setCheck({ health, key: keyState, error, at: new Date() });
    setChecking(false);
  }

  function onSaveUrl(event: FormEvent) {
    event.preventDefault();
    setApiUrl(url || null);
    setCheck(null);
    setNote(url ? "API URL saved in this browser." : "Using the default API URL.");
  }

  function onSaveKey(event: FormEvent) {
    event.preventDefault();
    if (!key.trim()) return;
    signIn(key.trim());
    setKey("");
    setCheck(null);
    setNote("Key saved in this browser.");
  }

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p className="muted">Kept in this browser only (local storage). Nothing here is sent anywhere but the API.</p>
        </div>
      </div>
      {note ? (
        <p className="notice notice-good" role="status">
          {note}
        </p>
      ) : null}
      <div className="grid grid-2" style={{ alignItems: "start" }}>
        <div className="stack">
          <form className="card stack" onSubmit={onSaveUrl} aria-labelledby="url-title">
            <h2 id="url-title">API</h2>
            <label className="field">
              <span>API URL</span>
              <input
                type="url"
                inputMode="url"
                value={url}
                placeholder={fallback}
                onChange={(e) => setUrl(e.target.value)}
                aria-describedby="url-hint"
              />
              <span id="url-hint" className="hint">
                Blank: {BUILT_API_URL ? "the URL this dashboard was built for" : "the address that served this page"} (
                <code>{fallback}</code>). In use now: <code data-testid="api-url">{connection.apiUrl}</code>.
              </span>
            </label>
            <div className="row">
              <button type="submit" className="button button-primary">
                Save URL
              </button>
              {apiUrlOverride ? (
                <button type="button" className="button" onClick={() => { setUrl(""); setApiUrl(null); setNote("Using the default API URL."); }}>
                  Use the default
                </button>
              ) : null}
            </div>
          </form>
          <form className="card stack" onSubmit={onSaveKey} aria-labelledby="key-title">
            <h2 id="key-title">API key</h2>
            <p className="muted">
              {connection.apiKey ? (
                <>
                  This browser sends the key <code>asahi_{keyPrefix(connection.apiKey)}_…</code> as{" "}
                  <code>Authorization: Bearer</code>.
                </>
              ) : (
                "No key stored: sign in, or paste one here."
              )}
            </p>
            <label className="field">
              <span>{connection.apiKey ? "Replace it with" : "Key"}</span>
              <span className="row" style={{ alignItems: "center" }}>
                <input
                  type={showKey ? "text" : "password"}
                  autoComplete="off"
                  spellCheck={false}
                  value={key}
                  placeholder="asahi_…"
                  onChange={(e) => setKey(e.target.value)}
                  style={{ flex: "1 1 18rem" }}
                />
                <button type="button" className="button" aria-pressed={showKey} onClick={() => setShowKey((s) => !s)}>
                  {showKey ? "Hide" : "Show"}
                </button>
              </span>
            </label>
            <div className="row">
              <button type="submit" className="button button-primary" disabled={!key.trim()}>
                Save key
              </button>
              {connection.apiKey ? (
                <button
                  type="button"
                  className="button button-danger"
                  onClick={() => {
                    signOut();
                    setCheck(null);
                    setNote("Key removed from this browser.");
                  }}
                >
                  Clear key
                </button>
              ) : null}
            </div>
          </form>
        </div>
        <section className="card stack" aria-labelledby="check-title">
          <h2 id="check-title">Connection check</h2>
          <div>
            <button type="button" className="button button-primary" onClick={runCheck} disabled={checking}>
              {checking ? "Checking…" : "Check the connection"}
            </button>
          </div>
          <div aria-live="polite" data-testid="connection-check">
            {check?.error ? (
              <div className="notice notice-error" role="alert">
                <strong>{check.error.unreachable ? "Not reachable" : `The API answered ${check.error.status}`}</strong>
                <p>{check.error.message}</p>
              </div>
            ) : null}
            {check?.health ? (
              <dl className="details">
                <dt>API</dt>
                <dd>
                  <span className="badge badge-good">{check.health.status}</span> Asahi {check.health.version} at{" "}
                  <code>{connection.apiUrl}</code>, up {Math.round(check.health.uptime_seconds)} s
                </dd>
                <dt>Database</dt>
                <dd>{check.health.database_backend}</dd>
                <dt>Tier 1 cache</dt>
                <dd>{check.health.cache_backend}</dd>
                <dt>Tier 2</dt>
                <dd>
                  {check.health.embedder ? (
                    <>
                      embedder <code>{check.health.embedder}</code>, vectors in <code>{check.health.vector_store}</code>
                    </>
                  ) : (
                    "off"
                  )}
                </dd>
                <dt>Providers</dt>
                <dd>{check.health.providers.join(", ") || "none configured"}</dd>
                <dt>Key</dt>
                <dd>
                  {check.key === "accepted" ? <span className="good">accepted</span> : null}
                  {check.key === "no-analytics" ? "accepted, without the analytics scope (pages that read spend are closed to it)" : null}
                  {check.key === "refused" ? <span className="bad">refused: revoked, expired or unknown</span> : null}
                  {check.key === "none" ? "none stored" : null}
                </dd>
              </dl>
            ) : null}
          </div>
        </section>
      </div>
    </div>
  );
}
