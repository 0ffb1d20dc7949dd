"use client";

import { useState, type FormEvent } from "react";
import { RequestDetail, TierBadge } from "@/components/RequestDetail";
import { useSession } from "@/components/Session";
import { ErrorState } from "@/components/States";
import { ApiError, call, errorOf, send } from "@/lib/api";
import { CACHE_LABELS, ms, usd } from "@/lib/format";
import { useQuery } from "@/lib/hooks";
import { chatStream } from "@/lib/sse";
import type { CacheTier, LedgerRow } from "@/lib/types";

type Mode = "autopilot" | "guided" | "explicit";

interface Result {
  requestId: string;
  prompt: string;
  text: string;
  cache: CacheTier;
  similarity: number | null;
  model: string | null;
  cost: number | null;
  baseline: number | null;
  saved: number | null;
  latencyMs: number | null;
  overheadMs: number | null;
  routingReason: string | null;
  streaming: boolean;
  detail: LedgerRow | null;
}

interface InferBody {
  request_id: string;
  response: string;
  model_used: string;
  cost: number | null;
  cost_original: number | null;
  cost_saved: number | null;
  similarity: number | null;
  latency_ms: number;
  routing_reason: string | null;
}

/** `x-asahi-cache: t2; similarity=0.9712` → tier and similarity. */
function cacheHeader(value: string | null): { cache: CacheTier; similarity: number | null } {
  const [tier, ...rest] = (value ?? "miss").split(";").map((s) => s.trim());
  const similarity = rest.find((p) => p.startsWith("similarity="));
  return { cache: (tier as CacheTier) || "miss", similarity: similarity ? Number(similarity.slice(11)) : null };
}

function money(value: string | null): number | null {
  if (value === null || value === "deferred" || value === "unknown") return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

const sleep = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));

export function Playground() {
  const { connection, signOut } = useSession();
  const models = useQuery<{ data: { id: string }[] }>("/v1/models");
  const [prompt, setPrompt] = useState("What is prompt caching, in two sentences?");
  const [system, setSystem] = useState("");
  const [mode, setMode] = useState<Mode>("autopilot");
  const [model, setModel] = useState("");
  const [quality, setQuality] = useState("medium");
  const [latency, setLatency] = useState("normal");
  const [budget, setBudget] = useState("");
  const [stream, setStream] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const [history, setHistory] = useState<Result[]>([]);

  const explicitModels = (models.data?.data ?? []).map((m) => m.id).filter((id) => id !== "asahi/auto");
  const chosenModel = model || explicitModels[0] || "";
  const streaming = stream && mode !== "guided";

  function failed(caught: unknown) {
    const failure = caught instanceof ApiError ? caught : new ApiError(0, "unreachable", "The API could not be reached.");
    if (failure.status === 401) signOut(failure.code);
    setError(failure);
  }

  /** The ledger row has what the headers cannot: the baseline and saving of a streamed answer, the models
   * weighed. It is written a moment after the answer, so look a few times. */
  async function ledgerRow(requestId: string): Promise<LedgerRow | null> {
    for (let attempt = 0; attempt < 12; attempt++) {
      try {
        return await call<LedgerRow>(connection, `/analytics/requests/${encodeURIComponent(requestId)}`);
      } catch (caught) {
        if (!(caught instanceof ApiError) || caught.status !== 404) return null; // e.g. an infer-only key: 403
      }
      await sleep(250);
    }
    return null;
  }

  function finish(partial: Result) {
    setResult(partial);
    setHistory((h) => [partial, ...h].slice(0, 10));
    void ledgerRow(partial.requestId).then((detail) => {
      if (!detail) return;
      const complete: Result = {
        ...partial,
        detail,
        model: detail.model,
        cost: detail.cost_usd,
        baseline: detail.baseline_cost_usd,
        saved: detail.saved_usd,
        latencyMs: detail.latency_ms,
        overheadMs: detail.overhead_ms,
        routingReason: detail.routing_reason,
      };
      setResult((r) => (r?.requestId === partial.requestId ? complete : r));
      setHistory((h) => h.map((x) => (x.requestId === partial.requestId ? complete : x)));
    });
  }

  async function runStream(): Promise<void> {
    const messages = [...(system ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }];
    const started = performance.now();
    const response = await send(connection, "/v1/chat/completions", {
      body: {
        model: mode === "explicit" ? chosenModel : "asahi/auto",
        messages,
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    if (!response.ok || !response.body) throw await errorOf(response);
    const { cache, similarity } = cacheHeader(response.headers.get("x-asahi-cache"));
    const base: Result = {
      requestId: response.headers.get("x-asahi-request-id") ?? "",
      prompt,
      text: "",
      cache,
      similarity,
      model: response.headers.get("x-asahi-model"),
      cost: money(response.headers.get("x-asahi-cost-usd")),
      baseline: null,
      saved: money(response.headers.get("x-asahi-saved-usd")),
      latencyMs: null,
      overheadMs: money(response.headers.get("x-asahi-overhead-ms")),
      routingReason: null,
      streaming: true,
      detail: null,
    };
    let text = "";
    setResult(base);
    for await (const chunk of chatStream(response.body)) {
      if (chunk.error) throw new ApiError(502, "stream_error", chunk.error);
      text += chunk.text;
      setResult({ ...base, text });
    }
    finish({ ...base, text, streaming: false, latencyMs: performance.now() - started });
  }

  async function runInfer(): Promise<void> {
    const body: Record<string, unknown> = { prompt, routing_mode: mode };
    if (system) body.system = system;
    if (mode === "explicit") body.model_override = chosenModel;
    if (mode === "guided") {
      body.quality_preference = quality;
      body.latency_preference = latency;
      if (budget) body.cost_budget = Number(budget);
    }
    const response = await send(connection, "/infer", { body });
    if (!response.ok) throw await errorOf(response);
    const data = (await response.json()) as InferBody;
    const { cache, similarity } = cacheHeader(response.headers.get("x-asahi-cache"));
    finish({
      requestId: data.request_id,
      prompt,
      text: data.response,
      cache,
      similarity: similarity ?? data.similarity,
      model: data.model_used,
      cost: data.cost,
      baseline: data.cost_original,
      saved: data.cost_saved,
      latencyMs: data.latency_ms,
      overheadMs: money(response.headers.get("x-asahi-overhead-ms")),
      routingReason: data.routing_reason,
      streaming: false,
      detail: null,
    });
  }

  async function onSubmit(event?: FormEvent) {
    event?.preventDefault();
    if (!prompt.trim() || busy) return;
    setBusy(true);
    setError(null);
    try {
      await (streaming ? runStream() : runInfer());
    } catch (caught) {
      failed(caught);
    } finally {
      setBusy(false);
    }
  }

  const hit = result && (result.cache === "t1" || result.cache === "t2");
  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Playground</h1>
          <p className="muted">Send a prompt through Asahi. Send the same one twice: the second answer comes from the cache.</p>
        </div>
      </div>
      <div className="grid grid-2">
        <form className="card stack" onSubmit={onSubmit} aria-label="Send a prompt">
          <div className="field">
            <label htmlFor="prompt">
              <span style={{ fontWeight: 600 }}>Prompt</span>
            </label>
            <textarea
              id="prompt"
              rows={5}
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void onSubmit();
              }}
              aria-describedby="prompt-hint"
            />
            <span id="prompt-hint" className="hint">
              Ctrl+Enter sends.
            </span>
          </div>
          <label className="field">
            <span>
              System prompt <span className="hint">(optional)</span>
            </span>
            <textarea rows={2} value={system} onChange={(e) => setSystem(e.target.value)} />
          </label>
          <fieldset className="stack">
            <legend>Routing</legend>
            <div className="segmented" role="radiogroup" aria-label="Routing mode">
              {(["autopilot", "guided", "explicit"] as Mode[]).map((m) => (
                <label key={m}>
                  <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} />
                  {m === "autopilot" ? "Autopilot" : m === "guided" ? "Guided" : "Explicit model"}
                </label>
              ))}
            </div>
            {mode === "autopilot" ? (
              <p className="hint muted">Asahi picks the cheapest model predicted to keep your quality floor.</p>
            ) : null}
            {mode === "guided" ? (
              <div className="row">
                <label className="field">
                  <span>Quality</span>
                  <select value={quality} onChange={(e) => setQuality(e.target.value)}>
                    <option value="low">Low</option>
                    <option value="medium">Medium (your floor)</option>
                    <option value="high">High</option>
                  </select>
                </label>
                <label className="field">
                  <span>Latency</span>
                  <select value={latency} onChange={(e) => setLatency(e.target.value)}>
                    <option value="normal">Normal</option>
                    <option value="low">Low</option>
                  </select>
                </label>
                <label className="field">
                  <span>Budget per request (USD)</span>
                  <input type="number" min="0" step="any" inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} />
                </label>
              </div>
            ) : null}
            {mode === "explicit" ? (
              <label className="field">
                <span>Model</span>
                <select value={chosenModel} onChange={(e) => setModel(e.target.value)}>
                  {explicitModels.map((id) => (
                    <option key={id}>{id}</option>
                  ))}
                </select>
              </label>
            ) : null}
          </fieldset>
          <label className="checks">
            <input type="checkbox" checked={streaming} disabled={mode === "guided"} onChange={(e) => setStream(e.target.checked)} />
            Stream the answer as it arrives
            {mode === "guided" ? <span className="hint muted">(guided requests go through /infer, in one piece)</span> : null}
          </label>
          <div>
            <button type="submit" className="button button-primary" disabled={busy || !prompt.trim()}>
              {busy ? "Sending…" : "Send"}
            </button>
          </div>
        </form>
        <section className="card stack" aria-live="polite" aria-label="Answer">
          <h2>Answer</h2>
          {error ? <ErrorState error={error} /> : null}
          {!result && !error ? <p className="muted">The answer, what it cost and what Asahi saved appear here.</p> : null}
          {result ? (
            <>
              <div className="row" data-testid="result-cache">
                <TierBadge tier={result.cache} />
                <span className="muted">
                  {hit ? "Answered from Asahi's cache: the provider was not called." : "Answered by the provider."}
                </span>
              </div>
              <div className="answer" data-testid="answer">
                {result.text || (busy ? "…" : "")}
              </div>
              <div className="grid grid-kpi">
                <div className="kpi">
                  <div className="label">Cost</div>
                  <div className="value" data-testid="result-cost">{usd(result.cost)}</div>
                </div>
                <div className="kpi">
                  <div className="label">Without Asahi</div>
                  <div className="value" data-testid="result-baseline">{usd(result.baseline)}</div>
                </div>
                <div className="kpi kpi-hero">
                  <div className="label">Saved</div>
                  <div className="value" data-testid="result-saved">{usd(result.saved)}</div>
                </div>
                <div className="kpi">
                  <div className="label">Latency</div>
                  <div className="value">{ms(result.latencyMs)}</div>
                  <div className="sub">overhead {ms(result.overheadMs)}</div>
                </div>
              </div>
              <dl className="details">
                <dt>Model used</dt>
                <dd>{result.model ?? "—"}</dd>
                <dt>Routing</dt>
                <dd>{result.routingReason ?? (result.detail ? "—" : "…")}</dd>
                {result.similarity !== null ? (
                  <>
                    <dt>Similarity</dt>
                    <dd>{result.similarity.toFixed(4)}</dd>
                  </>
                ) : null}
                <dt>Request id</dt>
                <dd>
                  <code>{result.requestId}</code>
                </dd>
              </dl>
              {result.detail && result.detail.alternatives.length ? (
                <details>
                  <summary>Models weighed and every figure</summary>
                  <RequestDetail row={result.detail} />
                </details>
              ) : null}
            </>
          ) : null}
        </section>
      </div>
      {history.length ? (
        <section className="card">
          <h2>This session</h2>
          <div className="table-wrap">
            <table data-testid="history">
              <thead>
                <tr>
                  <th scope="col">Prompt</th>
                  <th scope="col">Cache</th>
                  <th scope="col">Model</th>
                  <th scope="col" className="num">Cost</th>
                  <th scope="col" className="num">Saved</th>
                </tr>
              </thead>
              <tbody>
                {history.map((h) => (
                  <tr key={h.requestId}>
                    <td style={{ maxWidth: "22rem", overflow: "hidden", textOverflow: "ellipsis" }}>{h.prompt}</td>
                    <td>
                      <span className={`badge badge-${h.cache}`}>{CACHE_LABELS[h.cache] ?? h.cache}</span>
                    </td>
                    <td>{h.model ?? "—"}</td>
                    <td className="num">{usd(h.cost)}</td>
                    <td className="num">{usd(h.saved)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </div>
  );
}
