"use client";

import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { ErrorState, Loading } from "@/components/States";
import { ApiError } from "@/lib/api";
import { pct, usd } from "@/lib/format";
import { useApi, useQuery } from "@/lib/hooks";
import type { Policy, ServedModel } from "@/lib/types";

interface Form {
  allowAll: boolean;
  allowed: string[];
  default_model: string;
  baseline_model: string;
  quality_floor: string;
  requests_per_minute: string;
  tier2_target_error: string;
  cascade: boolean;
}

function toForm(policy: Policy): Form {
  return {
    allowAll: policy.allowed_models === null,
    allowed: policy.allowed_models ?? [],
    default_model: policy.default_model ?? "",
    baseline_model: policy.baseline_model ?? "",
    quality_floor: policy.quality_floor?.toString() ?? "",
    requests_per_minute: policy.requests_per_minute?.toString() ?? "",
    tier2_target_error: policy.tier2_target_error?.toString() ?? "",
    cascade: policy.cascade,
  };
}

/** Blank is "use the gateway's default"; anything else goes as typed, so the API names what is wrong with it. */
function number(value: string): number | string | null {
  const trimmed = value.trim();
  if (!trimmed) return null;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? parsed : trimmed;
}

function Field({
  name,
  label,
  hint,
  error,
  children,
}: {
  name: string;
  label: string;
  hint: ReactNode;
  error: string | null;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby": string }) => ReactNode;
}) {
  const id = `policy-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>
        <span style={{ fontWeight: 600 }}>{label}</span>
      </label>
      {children({ id, "aria-invalid": Boolean(error), "aria-describedby": `${id}-hint ${id}-error` })}
      <span id={`${id}-hint`} className="hint">
        {hint}
      </span>
      <span id={`${id}-error`} className="error" data-testid={`error-${name}`} role={error ? "alert" : undefined}>
        {error}
      </span>
    </div>
  );
}

export function Policy() {
  const api = useApi();
  const policy = useQuery<Policy>("/governance/policy");
  const models = useQuery<{ data: ServedModel[] }>("/governance/models");
  const [form, setForm] = useState<Form | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the form starts from what the API holds
    if (policy.data) setForm(toForm(policy.data));
  }, [policy.data]);

  if (policy.error) return <ErrorState error={policy.error} retryIn={policy.retryIn} onRetry={policy.reload} />;
  if (!form) return <Loading />;
  const served = models.data?.data ?? [];
  const set = (patch: Partial<Form>) => {
    setForm({ ...form, ...patch });
    setSaved(false);
  };
  const fieldError = (name: string) => error?.forField(name) ?? null;
  const choosable = form.allowAll ? served.map((m) => m.name) : form.allowed;

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!form) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      // PUT replaces the whole policy: what this page does not edit (budgets, their alert webhook) goes back as read.
      const body = {
        ...policy.data,
        allowed_models: form.allowAll ? null : form.allowed,
        default_model: form.default_model || null,
        baseline_model: form.baseline_model || null,
        quality_floor: number(form.quality_floor),
        requests_per_minute: number(form.requests_per_minute),
        tier2_target_error: number(form.tier2_target_error),
        cascade: form.cascade,
      };
      const stored = await api<Policy>("/governance/policy", { method: "PUT", body });
      setForm(toForm(stored));
      setSaved(true);
      policy.reload();
    } catch (caught) {
      if (caught instanceof ApiError) setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const floor = number(form.quality_floor);
  const delta = number(form.tier2_target_error);
  return (
    <form className="stack" onSubmit={onSubmit} noValidate style={{ maxWidth: "52rem" }}>
      <div className="page-head">
        <div>
          <h1>Policy</h1>
          <p className="muted">What this organisation may use and how Asahi trades cost against quality. Blank fields use the gateway&apos;s defaults.</p>
        </div>
      </div>
      {error && !error.param ? <ErrorState error={error} /> : null}
      {error?.param ? (
        <p className="notice notice-error" role="alert">
          Not saved: {error.fields.length > 1 ? "some fields need a change" : "a field needs a change"} (see below).
        </p>
      ) : null}
      {saved ? (
        <p className="notice notice-good" role="status">
          Saved. New requests follow it within a few seconds.
        </p>
      ) : null}
      <fieldset className="card stack" aria-describedby="policy-allowed_models-error">
        <legend>Allowed models</legend>
        <label className="checks">
          <input type="checkbox" checked={form.allowAll} onChange={(e) => set({ allowAll: e.target.checked })} />
          Every model this gateway serves
        </label>
        {!form.allowAll ? (
          <div className="checks">
            {served.map((m) => (
              <label key={m.name}>
                <input
                  type="checkbox"
                  checked={form.allowed.includes(m.name)}
                  onChange={(e) =>
                    set({ allowed: e.target.checked ? [...form.allowed, m.name] : form.allowed.filter((x) => x !== m.name) })
                  }
                />
                {m.name}{" "}
                <span className="muted">
                  ({m.provider}, {usd(m.input_price)} / {usd(m.output_price)} per 1M tokens)
                </span>
              </label>
            ))}
          </div>
        ) : null}
        <span id="policy-allowed_models-error" className="error" role={fieldError("allowed_models") ? "alert" : undefined}>
          {fieldError("allowed_models")}
        </span>
      </fieldset>
      <div className="card grid grid-2">
        <Field name="default_model" label="Default model" hint="Answers requests that name no model." error={fieldError("default_model")}>
          {(props) => (
            <select {...props} value={form.default_model} onChange={(e) => set({ default_model: e.target.value })}>
              <option value="">Gateway default</option>
              {choosable.map((name) => (
                <option key={name}>{name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field
          name="baseline_model"
          label="Baseline model"
          hint="What a routed request would have cost without Asahi: savings are measured against it."
          error={fieldError("baseline_model")}
        >
          {(props) => (
            <select {...props} value={form.baseline_model} onChange={(e) => set({ baseline_model: e.target.value })}>
              <option value="">Gateway default</option>
              {choosable.map((name) => (
                <option key={name}>{name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field
          name="quality_floor"
          label="Quality floor"
          hint={`Share of the baseline model's quality that autopilot keeps (0.5 to 1)${typeof floor === "number" ? `: ${pct(floor)}` : ""}.`}
          error={fieldError("quality_floor")}
        >
          {(props) => (
            <input {...props} inputMode="decimal" value={form.quality_floor} placeholder="0.95" onChange={(e) => set({ quality_floor: e.target.value })} />
          )}
        </Field>
        <Field name="requests_per_minute" label="Rate limit" hint="Requests per minute for the whole organisation; blank: none." error={fieldError("requests_per_minute")}>
          {(props) => (
            <input {...props} inputMode="numeric" value={form.requests_per_minute} placeholder="none" onChange={(e) => set({ requests_per_minute: e.target.value })} />
          )}
        </Field>
        <Field
          name="tier2_target_error"
          label="Tier 2 error target (δ)"
          hint={`Most wrong semantic hits per tier 2 lookup, above 0 and at most 0.2${typeof delta === "number" ? `: ${pct(delta)}` : ""}.`}
          error={fieldError("tier2_target_error")}
        >
          {(props) => (
            <input {...props} inputMode="decimal" value={form.tier2_target_error} placeholder="0.02" onChange={(e) => set({ tier2_target_error: e.target.value })} />
          )}
        </Field>
        <div className="field">
          <label className="checks">
            <input type="checkbox" checked={form.cascade} onChange={(e) => set({ cascade: e.target.checked })} aria-describedby="policy-cascade-hint" />
            <span style={{ fontWeight: 600 }}>Cascade mode</span>
          </label>
          <span id="policy-cascade-hint" className="hint">
            Routed word problems go to the cheap model first; the routed model answers only when a check of the cheap answer fails.
          </span>
        </div>
      </div>
      <div className="row">
        <button type="submit" className="button button-primary" disabled={busy}>
          Save policy
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            if (policy.data) setForm(toForm(policy.data));
            setError(null);
          }}
        >
          Discard changes
        </button>
      </div>
    </form>
  );
}
