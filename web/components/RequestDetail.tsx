"use client";

import { CACHE_LABELS, CAUSE_LABELS, count, dateTime, ms, pct, usd } from "@/lib/format";
import type { CacheTier, LedgerRow } from "@/lib/types";

export function TierBadge({ tier }: { tier: CacheTier }) {
  return <span className={`badge badge-${tier}`}>{CACHE_LABELS[tier] ?? tier}</span>;
}

export function StatusBadge({ status, code }: { status: number; code: string | null }) {
  if (status < 400) return <span className="badge badge-good">{status}</span>;
  return (
    <span className="badge badge-bad" title={code ?? undefined}>
      {status}
      {code ? ` ${code}` : ""}
    </span>
  );
}

/** Everything the ledger knows about one request: what was asked, what answered, what it cost and saved, why. */
export function RequestDetail({ row }: { row: LedgerRow }) {
  const t = row.tokens;
  return (
    <div className="stack">
      <dl className="details">
        <dt>Request id</dt>
        <dd>
          <code>{row.request_id}</code>
        </dd>
        <dt>When</dt>
        <dd>{dateTime(row.created_at)}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={row.status} code={row.error_code} />
        </dd>
        <dt>Model asked</dt>
        <dd>{row.model_requested ?? "—"}</dd>
        <dt>Model used</dt>
        <dd>
          {row.model ?? "—"}
          {row.provider ? <span className="muted"> · {row.provider}</span> : null}
        </dd>
        <dt>Cache</dt>
        <dd>
          <TierBadge tier={row.cache_tier} />
          {row.similarity !== null ? <span className="muted"> similarity {row.similarity.toFixed(4)}</span> : null}
          {row.feedback !== null ? (
            <span className="muted"> · feedback: {row.feedback ? "right" : "wrong"}</span>
          ) : null}
        </dd>
        <dt>Routing</dt>
        <dd>{row.routing_reason ?? "—"}</dd>
        <dt>Cost</dt>
        <dd>
          {usd(row.cost_usd)}
          {!row.cost_complete ? <span className="muted"> (a price or a usage figure is unknown)</span> : null}
        </dd>
        <dt>Without Asahi</dt>
        <dd>{usd(row.baseline_cost_usd)}</dd>
        <dt>Saved</dt>
        <dd>
          <strong className={row.saved_usd && row.saved_usd > 0 ? "good" : row.saved_usd && row.saved_usd < 0 ? "bad" : ""}>
            {usd(row.saved_usd)}
          </strong>
          {row.saving_cause ? <span className="muted"> · {CAUSE_LABELS[row.saving_cause]}</span> : null}
          {row.prompt_cache_saved_usd ? (
            <span className="muted"> · of which prompt cache {usd(row.prompt_cache_saved_usd)}</span>
          ) : null}
        </dd>
        <dt>Latency</dt>
        <dd>
          {ms(row.latency_ms)} <span className="muted">· Asahi overhead {ms(row.overhead_ms)}</span>
        </dd>
        <dt>Tokens</dt>
        <dd>
          {count(t.input)} in ({count(t.cached_input)} from the provider&apos;s cache, {count(t.cache_write)} written to
          it) · {count(t.output)} out{t.reasoning ? ` (${count(t.reasoning)} reasoning)` : ""}
        </dd>
        <dt>Key</dt>
        <dd>
          {row.key_name ?? "—"} {row.key_prefix ? <code>{row.key_prefix}</code> : null}
        </dd>
        <dt>Surface</dt>
        <dd>{row.surface}</dd>
      </dl>
      {row.alternatives.length ? (
        <div>
          <h3>Models weighed</h3>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col" className="num">Estimated cost</th>
                  <th scope="col" className="num">Predicted quality</th>
                </tr>
              </thead>
              <tbody>
                {row.alternatives.map((a) => (
                  <tr key={a.model}>
                    <td>
                      {a.model}
                      {a.model === row.model ? <span className="muted"> (chosen)</span> : null}
                    </td>
                    <td className="num">{usd(a.estimated_cost_usd)}</td>
                    <td className="num">{pct(a.quality_share)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </div>
  );
}
