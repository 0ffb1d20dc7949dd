"use client";

import { useMemo, useState } from "react";
import { Bars } from "@/components/Charts";
import { RangePicker, rangeQuery, useRange } from "@/components/Range";
import { Empty, ErrorState, Loading } from "@/components/States";
import { ApiError } from "@/lib/api";
import { CACHE_LABELS, CAUSE_COLORS, CAUSE_LABELS, count, counted, dateTime, pct, shortDateTime, TIER_COLORS, usd, usdAxis } from "@/lib/format";
import { useApi, useQuery } from "@/lib/hooks";
import type { CacheReport, LedgerRow, Page, Usage } from "@/lib/types";

const TIERS = ["t1", "t2", "t3", "miss"] as const;
const SAVING_TIERS = ["tier1", "tier2", "tier3"] as const;

export function Cache() {
  const [range, setRange] = useRange("7d");
  const query = useMemo(() => rangeQuery(range, new Date()), [range]);
  const usage = useQuery<Usage>("/analytics/usage", query);
  const report = useQuery<CacheReport>("/analytics/cache", { since: query.since, until: query.until });
  const data = usage.data;
  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Cache</h1>
          <p className="muted">What each tier answered and saved, and how often tier 2 was wrong.</p>
        </div>
        <RangePicker range={range} onChange={setRange} />
      </div>
      {usage.error ? <ErrorState error={usage.error} retryIn={usage.retryIn} onRetry={usage.reload} /> : null}
      {!data && usage.loading ? <Loading /> : null}
      {data ? (
        <section className="grid grid-kpi" aria-label="Cache totals">
          {(["t1", "t2", "t3"] as const).map((tier, i) => (
            <div className="card kpi" key={tier}>
              <div className="label">
                <span className="swatch" style={{ background: TIER_COLORS[tier] }} aria-hidden="true" />
                {CACHE_LABELS[tier]}
              </div>
              <div className="value">{pct(data.hit_rates[tier])}</div>
              <div className="sub">
                {counted(data.cache[tier], "request")} · saved {usd(data.savings[SAVING_TIERS[i] ?? "tier1"])}
              </div>
            </div>
          ))}
          <div className="card kpi">
            <div className="label">Misses</div>
            <div className="value">{count(data.cache.miss)}</div>
            <div className="sub">{count(data.cache.bypass)} not cacheable (bypass)</div>
          </div>
        </section>
      ) : null}
      {data && data.total.requests === 0 ? (
        <Empty title="No requests in this range yet">
          <p>Hits appear once the same (tier 1) or a similar (tier 2) request comes again.</p>
        </Empty>
      ) : null}
      {data && data.total.requests > 0 ? (
        <section className="grid grid-2">
          <div className="card">
            <h2>Requests by cache outcome</h2>
            <Bars
              rows={data.series.map((p) => ({ start: p.start, ...p.cache }))}
              granularity={data.granularity}
              format={(v) => count(v)}
              integers
              summary={TIERS.map((t) => `${CACHE_LABELS[t]}: ${count(data.cache[t])}`).join("; ")}
              series={TIERS.map((t) => ({ key: t, label: CACHE_LABELS[t] ?? t, color: TIER_COLORS[t] ?? "gray" }))}
            />
          </div>
          <div className="card">
            <h2>Saved by tier</h2>
            <Bars
              rows={data.series.map((p) => ({ start: p.start, ...p.savings }))}
              granularity={data.granularity}
              format={usd}
              axisFormat={usdAxis}
              summary={SAVING_TIERS.map((c) => `${CAUSE_LABELS[c]}: ${usd(data.savings[c])}`).join("; ")}
              series={SAVING_TIERS.map((c) => ({ key: c, label: CAUSE_LABELS[c] ?? c, color: CAUSE_COLORS[c] }))}
            />
          </div>
        </section>
      ) : null}
      {report.error ? <ErrorState error={report.error} retryIn={report.retryIn} onRetry={report.reload} /> : null}
      {report.data ? <Tier2Bound report={report.data} /> : null}
      <Tier2Hits />
    </div>
  );
}

function verdict(delta: number, f: CacheReport["tier2"]["feedback"]): { tone: string; text: string } {
  if (!f.labelled || f.rate === null || f.rate_upper_95 === null) {
    return { tone: "", text: "No feedback yet: mark tier 2 hits right or wrong below to measure the rate." };
  }
  if (f.rate > delta) {
    return { tone: "bad", text: `Feedback so far says ${pct(f.rate)} of judged hits were wrong, above the bound of ${pct(delta)}.` };
  }
  if (f.rate_upper_95 <= delta) {
    return { tone: "good", text: `Within the bound: even the pessimistic end of the measurement (${pct(f.rate_upper_95)}) is under ${pct(delta)}.` };
  }
  return {
    tone: "",
    text: `So far ${pct(f.rate)} were wrong, but ${count(f.labelled)} judgements are too few to confirm the bound (the rate could be up to ${pct(f.rate_upper_95)}).`,
  };
}

function Tier2Bound({ report }: { report: CacheReport }) {
  const t2 = report.tier2;
  if (!t2.enabled) {
    return (
      <div className="card">
        <h2>Tier 2 · semantic cache</h2>
        <p className="muted">Tier 2 is turned off on this gateway (cache.tier2.enabled).</p>
      </div>
    );
  }
  const delta = t2.delta ?? 0;
  const said = verdict(delta, t2.feedback);
  return (
    <section className="card stack" aria-labelledby="t2-title">
      <h2 id="t2-title">Tier 2 · how often a semantic hit is wrong</h2>
      <div className="grid grid-kpi">
        <div className="kpi">
          <div className="label">Bound (δ)</div>
          <div className="value" data-testid="t2-delta">{pct(delta)}</div>
          <div className="sub">{t2.delta_source === "policy" ? "set in your policy" : "the gateway default"}</div>
        </div>
        <div className="kpi">
          <div className="label">Tier 2&apos;s own estimate</div>
          <div className="value">{pct(t2.estimated_error_rate)}</div>
          <div className="sub">pessimistic, per lookup, from {count(t2.labels ?? 0)} labels</div>
        </div>
        <div className="kpi">
          <div className="label">Measured from feedback</div>
          <div className="value">{pct(t2.feedback.rate)}</div>
          <div className="sub">
            {count(t2.feedback.wrong)} wrong of {count(t2.feedback.labelled)} judged
            {t2.feedback.rate_upper_95 !== null ? ` · up to ${pct(t2.feedback.rate_upper_95)} (95%)` : ""}
          </div>
        </div>
      </div>
      <p className={said.tone}>{said.text}</p>
      <p className="muted">
        δ bounds wrong hits per tier 2 lookup: tier 2 serves a cached answer only while its pessimistic estimate of
        wrong hits stays under δ, and learns from checks against the provider and from your feedback. Embedder{" "}
        <code>{t2.embedder}</code>, vectors in <code>{t2.vector_store}</code>.
      </p>
    </section>
  );
}

function Tier2Hits() {
  const hits = useQuery<Page<LedgerRow>>("/analytics/requests", { cache: "t2", limit: 10 });
  const api = useApi();
  const [sent, setSent] = useState<Record<string, boolean | string>>({});

  async function tell(requestId: string, correct: boolean) {
    try {
      await api("/feedback", { body: { request_id: requestId, correct } });
      setSent((s) => ({ ...s, [requestId]: correct }));
    } catch (caught) {
      const message =
        caught instanceof ApiError && caught.status === 404
          ? "This gateway no longer remembers that hit (it restarted or the hit is too old)."
          : caught instanceof ApiError
            ? caught.message
            : "Could not send.";
      setSent((s) => ({ ...s, [requestId]: message }));
    }
  }

  return (
    <section className="card stack" aria-labelledby="t2-hits">
      <h2 id="t2-hits">Recent tier 2 hits</h2>
      {hits.error ? <ErrorState error={hits.error} retryIn={hits.retryIn} onRetry={hits.reload} /> : null}
      {hits.data && hits.data.data.length === 0 ? (
        <Empty title="No tier 2 hits yet">
          <p>
            Tier 2 answers a request that means the same as an earlier one once it has learned, from checks against the
            provider, that such hits are right often enough.
          </p>
        </Empty>
      ) : null}
      {hits.data && hits.data.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Model</th>
                <th scope="col" className="num">Similarity</th>
                <th scope="col" className="num">Saved</th>
                <th scope="col">Was the answer right?</th>
              </tr>
            </thead>
            <tbody>
              {hits.data.data.map((row) => {
                const state = sent[row.request_id] ?? row.feedback;
                return (
                  <tr key={row.request_id}>
                    <td title={dateTime(row.created_at)}>{shortDateTime(row.created_at)}</td>
                    <td>{row.model}</td>
                    <td className="num">{row.similarity?.toFixed(4) ?? "—"}</td>
                    <td className="num">{usd(row.saved_usd)}</td>
                    <td>
                      {typeof state === "string" ? <span className="bad">{state}</span> : null}
                      {typeof state === "boolean" ? (
                        <span className={state ? "good" : "bad"}>{state ? "Right" : "Wrong"} · </span>
                      ) : null}
                      <span className="row" style={{ display: "inline-flex" }}>
                        <button type="button" className="button" onClick={() => tell(row.request_id, true)} aria-label={`Mark the hit of ${dateTime(row.created_at)} right`}>
                          Right
                        </button>
                        <button type="button" className="button" onClick={() => tell(row.request_id, false)} aria-label={`Mark the hit of ${dateTime(row.created_at)} wrong`}>
                          Wrong
                        </button>
                      </span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
