"use client";

import Link from "next/link";
import { useMemo } from "react";
import { Bars } from "@/components/Charts";
import { RangePicker, rangeQuery, useRange } from "@/components/Range";
import { useSession } from "@/components/Session";
import { Empty, ErrorState, Loading } from "@/components/States";
import { useQuery } from "@/lib/hooks";
import { CAUSE_COLORS, CAUSE_LABELS, count, counted, ms, pct, usd, usdAxis } from "@/lib/format";
import { CAUSES, type Cause, type Usage } from "@/lib/types";

const CAUSE_WHY: Record<Cause, string> = {
  tier1: "The same request again, answered from Asahi's exact cache: the provider was not called.",
  tier2: "A request that meant the same as an earlier one, answered from the semantic cache.",
  tier3: "Repeated prompt prefixes the provider billed at its cached-input price.",
  routing: "Requests sent to a cheaper model predicted to keep your quality floor.",
};

export function Overview() {
  const [range, setRange] = useRange("7d");
  const query = useMemo(() => rangeQuery(range, new Date()), [range]);
  const usage = useQuery<Usage>("/analytics/usage", query);
  const { connection } = useSession();
  const data = usage.data;

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Overview</h1>
          <p className="muted">What your requests cost, what they would have cost without Asahi, and why.</p>
        </div>
        <RangePicker range={range} onChange={setRange} />
      </div>
      {usage.error ? <ErrorState error={usage.error} retryIn={usage.retryIn} onRetry={usage.reload} /> : null}
      {!data && usage.loading ? <Loading /> : null}
      {data && data.total.requests === 0 ? (
        <Empty title="No requests in this range yet">
          <p>
            Send a prompt from the <Link href="/playground/">Playground</Link>, or point an OpenAI SDK at{" "}
            <code>{connection.apiUrl}/v1</code> with your key. Savings show up here as requests arrive.
          </p>
        </Empty>
      ) : null}
      {data && data.total.requests > 0 ? <Figures usage={data} /> : null}
    </div>
  );
}

function Figures({ usage }: { usage: Usage }) {
  const { total } = usage;
  const rows = usage.series.map((p) => ({
    start: p.start,
    cost: p.cost_usd,
    baseline: p.baseline_cost_usd,
    ...p.savings,
  }));
  const savedTotal = CAUSES.reduce((sum, cause) => sum + Math.max(0, usage.savings[cause]), 0);
  const models = Object.entries(usage.by_model).sort((a, b) => b[1].requests - a[1].requests);
  return (
    <>
      <section className="grid grid-kpi" aria-label="Totals">
        <div className="card kpi kpi-hero" data-testid="kpi-saved">
          <div className="label">Saved</div>
          <div className="value">{usd(total.saved_usd)}</div>
          <div className="sub">{pct(total.saved_share)} of what it would have cost</div>
        </div>
        <div className="card kpi">
          <div className="label">Spent</div>
          <div className="value">{usd(total.cost_usd)}</div>
          <div className="sub">{usd(total.baseline_cost_usd)} without Asahi</div>
        </div>
        <div className="card kpi">
          <div className="label">Requests</div>
          <div className="value">{count(total.requests)}</div>
          <div className="sub">{total.errors ? `${count(total.errors)} failed` : "none failed"}</div>
        </div>
        <div className="card kpi">
          <div className="label">Cache hit rate</div>
          <div className="value">{pct(usage.hit_rates.cache)}</div>
          <div className="sub">
            tier 1 {pct(usage.hit_rates.t1)} · tier 2 {pct(usage.hit_rates.t2)}
          </div>
        </div>
        <div className="card kpi">
          <div className="label">Asahi overhead (p50)</div>
          <div className="value">{ms(usage.overhead_ms.p50)}</div>
          <div className="sub">p95 {ms(usage.overhead_ms.p95)}</div>
        </div>
      </section>
      {total.rows_with_unknown_price ? (
        <p className="notice notice-warn">
          {counted(total.rows_with_unknown_price, "request")} used a model without a known price: their cost is left out
          rather than guessed.
        </p>
      ) : null}
      <section className="grid grid-2">
        <div className="card">
          <h2>Spend vs. without Asahi</h2>
          <Bars
            rows={rows}
            granularity={usage.granularity}
            format={usd}
            axisFormat={usdAxis}
            stacked={false}
            summary={`Spent ${usd(total.cost_usd)} against ${usd(total.baseline_cost_usd)} without Asahi over the range.`}
            series={[
              { key: "baseline", label: "Without Asahi", color: "var(--c-baseline)" },
              { key: "cost", label: "Spent", color: "var(--c-cost)" },
            ]}
          />
        </div>
        <div className="card">
          <h2>Saved by cause</h2>
          <Bars
            rows={rows}
            granularity={usage.granularity}
            format={usd}
            axisFormat={usdAxis}
            summary={CAUSES.map((c) => `${CAUSE_LABELS[c]}: ${usd(usage.savings[c])}`).join("; ")}
            series={CAUSES.map((c) => ({ key: c, label: CAUSE_LABELS[c] ?? c, color: CAUSE_COLORS[c] }))}
          />
        </div>
      </section>
      <section className="grid grid-2">
        <div className="card">
          <h2>Where the saving came from</h2>
          <ul className="bars" data-testid="savings-by-cause">
            {CAUSES.map((cause) => {
              const amount = usage.savings[cause];
              const share = savedTotal > 0 ? Math.max(0, amount) / savedTotal : 0;
              return (
                <li key={cause}>
                  <span>
                    <span className="swatch" style={{ background: CAUSE_COLORS[cause] }} aria-hidden="true" />
                    {CAUSE_LABELS[cause]}
                  </span>
                  <strong className="nowrap">{usd(amount)}</strong>
                  <span className="bar" aria-hidden="true">
                    <span style={{ width: `${share * 100}%`, background: CAUSE_COLORS[cause] }} />
                  </span>
                  <span className="muted" style={{ gridColumn: "1 / -1", fontSize: "0.85rem" }}>
                    {CAUSE_WHY[cause]}
                  </span>
                </li>
              );
            })}
          </ul>
        </div>
        <div className="card">
          <h2>By model</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col" className="num">Requests</th>
                  <th scope="col" className="num">Spent</th>
                  <th scope="col" className="num">Without Asahi</th>
                  <th scope="col" className="num">Saved</th>
                </tr>
              </thead>
              <tbody>
                {models.map(([model, f]) => (
                  <tr key={model}>
                    <td>{model === "None" ? "—" : model}</td>
                    <td className="num">{count(f.requests)}</td>
                    <td className="num">{usd(f.cost_usd)}</td>
                    <td className="num">{usd(f.baseline_cost_usd)}</td>
                    <td className="num">{usd(f.saved_usd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      </section>
    </>
  );
}
