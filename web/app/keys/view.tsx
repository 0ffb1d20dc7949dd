"use client";

import { useState, type FormEvent } from "react";
import { CopyButton } from "@/components/CopyButton";
import { Dialog } from "@/components/Dialog";
import { useSession } from "@/components/Session";
import { Empty, ErrorState, Loading } from "@/components/States";
import { ApiError } from "@/lib/api";
import { keyPrefix } from "@/lib/config";
import { dateTime, shortDateTime } from "@/lib/format";
import { useApi, useQuery } from "@/lib/hooks";
import type { ApiKey, CreatedKey } from "@/lib/types";

const SCOPES = [
  { value: "infer", hint: "send requests (what applications need)" },
  { value: "analytics", hint: "read spend, savings and the ledger" },
  { value: "admin", hint: "everything in this org: keys, policy" },
];

function state(key: ApiKey): { label: string; tone: string } {
  if (key.revoked_at) return { label: "Revoked", tone: "badge-bad" };
  if (key.expires_at && new Date(key.expires_at) <= new Date()) return { label: "Expired", tone: "badge-bad" };
  return { label: "Active", tone: "badge-good" };
}

export function Keys() {
  const { connection } = useSession();
  const api = useApi();
  const keys = useQuery<ApiKey[]>("/governance/api-keys");
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["infer"]);
  const [expires, setExpires] = useState("");
  const [createError, setCreateError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [revokeError, setRevokeError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const mine = keyPrefix(connection.apiKey);

  async function onCreate(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setCreateError(null);
    try {
      const body: Record<string, unknown> = { name, scopes };
      if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
      setCreated(await api<CreatedKey>("/governance/api-keys", { body }));
      setName("");
      keys.reload();
    } catch (caught) {
      if (caught instanceof ApiError) setCreateError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function onRevoke() {
    if (!revoking) return;
    setBusy(true);
    setRevokeError(null);
    try {
      await api(`/governance/api-keys/${encodeURIComponent(revoking.id)}`, { method: "DELETE" });
      setRevoking(null);
      keys.reload();
    } catch (caught) {
      if (caught instanceof ApiError) setRevokeError(caught);
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (field: string) => createError?.forField(field) ?? null;
  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Keys</h1>
          <p className="muted">Keys of this organisation. A secret is shown once, when the key is created.</p>
        </div>
      </div>
      {keys.error ? <ErrorState error={keys.error} retryIn={keys.retryIn} onRetry={keys.reload} /> : null}
      {!keys.data && keys.loading ? <Loading /> : null}
      {keys.data && keys.data.length === 0 ? <Empty title="No keys" /> : null}
      {keys.data && keys.data.length > 0 ? (
        <div className="table-wrap">
          <table data-testid="keys-table">
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => {
                const s = state(key);
                return (
                  <tr key={key.id} data-key-name={key.name}>
                    <td>
                      {key.name}
                      {key.prefix === mine ? <span className="muted"> (this browser)</span> : null}
                    </td>
                    <td>
                      <code>{key.prefix}</code>
                    </td>
                    <td>{key.scopes.join(", ")}</td>
                    <td title={dateTime(key.created_at)}>{shortDateTime(key.created_at)}</td>
                    <td title={key.last_used_at ? dateTime(key.last_used_at) : undefined}>
                      {key.last_used_at ? shortDateTime(key.last_used_at) : "never"}
                    </td>
                    <td title={key.expires_at ? dateTime(key.expires_at) : undefined}>
                      {key.expires_at ? shortDateTime(key.expires_at) : "never"}
                    </td>
                    <td>
                      <span className={`badge ${s.tone}`} title={key.revoked_at ? `Revoked ${dateTime(key.revoked_at)}` : undefined}>
                        {s.label}
                      </span>
                    </td>
                    <td>
                      {!key.revoked_at ? (
                        <button type="button" className="button button-danger" onClick={() => setRevoking(key)}>
                          Revoke<span className="visually-hidden"> {key.name}</span>
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      <form className="card stack" onSubmit={onCreate} noValidate aria-labelledby="create-title" style={{ maxWidth: "46rem" }}>
        <h2 id="create-title">Create a key</h2>
        <label className="field">
          <span>Name</span>
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="e.g. backend-prod"
            aria-invalid={Boolean(fieldError("name"))}
            aria-describedby="name-error"
          />
          <span id="name-error" className="error">
            {fieldError("name")}
          </span>
        </label>
        <fieldset className="field" aria-describedby="scopes-error">
          <legend>Scopes</legend>
          <div className="checks">
            {SCOPES.map((scope) => (
              <label key={scope.value}>
                <input
                  type="checkbox"
                  checked={scopes.includes(scope.value)}
                  onChange={(e) =>
                    setScopes((s) => (e.target.checked ? [...s, scope.value] : s.filter((x) => x !== scope.value)))
                  }
                />
                <strong>{scope.value}</strong> <span className="muted">{scope.hint}</span>
              </label>
            ))}
          </div>
          <span id="scopes-error" className="error">
            {fieldError("scopes")}
          </span>
        </fieldset>
        <label className="field">
          <span>
            Expires <span className="hint">(optional: the end of that day, your time)</span>
          </span>
          <input
            type="date"
            value={expires}
            onChange={(e) => setExpires(e.target.value)}
            aria-invalid={Boolean(fieldError("expires_at"))}
            aria-describedby="expires-error"
          />
          <span id="expires-error" className="error">
            {fieldError("expires_at") ?? (createError?.code === "invalid_expiry" ? createError.message : null)}
          </span>
        </label>
        {createError && !createError.param && createError.code !== "invalid_expiry" ? <ErrorState error={createError} /> : null}
        <div>
          <button type="submit" className="button button-primary" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
      <Dialog open={Boolean(created)} title="Your new key" onClose={() => setCreated(null)}>
        {created ? (
          <div className="stack">
            <p>
              <strong>{created.name}</strong> ({created.scopes.join(", ")}). Copy the secret now: it is never shown
              again.
            </p>
            <div className="secret">
              <code data-testid="created-key">{created.api_key}</code>
              <CopyButton text={created.api_key} />
            </div>
            <div>
              <button type="button" className="button button-primary" onClick={() => setCreated(null)}>
                Done
              </button>
            </div>
          </div>
        ) : null}
      </Dialog>
      <Dialog open={Boolean(revoking)} title="Revoke this key?" onClose={() => setRevoking(null)}>
        {revoking ? (
          <div className="stack">
            <p>
              <strong>{revoking.name}</strong> (<code>{revoking.prefix}</code>) stops working on every instance within
              seconds. This cannot be undone.
            </p>
            {revoking.prefix === mine ? (
              <p className="notice notice-warn">This is the key this browser is signed in with: you will be signed out.</p>
            ) : null}
            {revokeError ? <ErrorState error={revokeError} /> : null}
            <div className="row">
              <button type="button" className="button button-danger" onClick={onRevoke} disabled={busy}>
                Revoke key
              </button>
              <button type="button" className="button" onClick={() => setRevoking(null)} autoFocus>
                Cancel
              </button>
            </div>
          </div>
        ) : null}
      </Dialog>
    </div>
  );
}
