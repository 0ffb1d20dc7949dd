"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { CopyButton } from "@/components/CopyButton";
import { useSession } from "@/components/Session";
import { ApiError, call } from "@/lib/api";
import type { Signup } from "@/lib/types";

const REASONS: Record<string, string> = {
  missing_api_key: "Sign in to continue.",
  invalid_api_key: "The API no longer accepts the key this browser had (revoked or expired). Sign in with another.",
  revoked_api_key: "That key was revoked. Sign in with another.",
  expired_api_key: "That key has expired. Sign in with another.",
};

function problem(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.unreachable) return `${error.message} Check the API URL below or in Settings.`;
    if (error.status === 429) return `Too many attempts. Try again in ${error.retryAfter ?? 60} s.`;
    return error.message;
  }
  return "Something went wrong.";
}

export function SignIn() {
  const { connection, signIn } = useSession();
  const router = useRouter();
  const reason = useSearchParams().get("reason");
  const [orgName, setOrgName] = useState("");
  const [email, setEmail] = useState("");
  const [created, setCreated] = useState<Signup | null>(null);
  const [signupError, setSignupError] = useState<ApiError | string | null>(null);
  const [busy, setBusy] = useState(false);
  const [pasted, setPasted] = useState("");
  const [signinError, setSigninError] = useState<string | null>(null);

  async function onSignup(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setSignupError(null);
    try {
      setCreated(await call<Signup>({ ...connection, apiKey: null }, "/signup", { body: { org_name: orgName, email } }));
    } catch (error) {
      setSignupError(error instanceof ApiError && error.param ? error : problem(error));
    } finally {
      setBusy(false);
    }
  }

  async function onSignin(event: FormEvent) {
    event.preventDefault();
    const key = pasted.trim();
    setSigninError(null);
    setBusy(true);
    try {
      // /health answers anyone; the key itself is checked by a read any scope may be refused (403) but not 401.
      await call({ ...connection, apiKey: key }, "/analytics/facets", { query: { days: 1 } });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 403)) {
        setSigninError(error instanceof ApiError && error.status === 401 ? "The API does not accept this key." : problem(error));
        setBusy(false);
        return;
      }
    }
    signIn(key);
    router.push("/");
  }

  const fieldError = (name: string) => (signupError instanceof ApiError ? signupError.forField(name) : null);

  if (created) {
    return (
      <div className="stack" style={{ maxWidth: "44rem" }}>
        <h1>Your organisation is ready</h1>
        <div className="card stack">
          <p>
            This is the admin key of <strong>{created.org_name}</strong>. It is shown <strong>once</strong>: Asahi keeps
            only a digest of it. Copy it into your password manager or secret store now.
          </p>
          <div className="secret">
            <code data-testid="new-key">{created.api_key}</code>
            <CopyButton text={created.api_key} label="Copy key" />
          </div>
          <div className="notice notice-warn" role="note">
            Anyone with this key can administer the organisation. For applications, create keys with the
            <strong> infer</strong> scope only, on the Keys page.
          </div>
          <p className="muted">
            Use it as the API key of your OpenAI or Anthropic SDK, with base URL <code>{connection.apiUrl}/v1</code>.
          </p>
          <div className="row">
            <button
              type="button"
              className="button button-primary"
              onClick={() => {
                signIn(created.api_key, created.org_name);
                router.push("/playground/");
              }}
            >
              I stored it: continue to the playground
            </button>
          </div>
        </div>
      </div>
    );
  }

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Asahi</h1>
          <p className="muted">See what your LLM calls cost, what Asahi saved, and why.</p>
        </div>
      </div>
      {reason && REASONS[reason] ? (
        <div className="notice notice-warn" role="alert">
          {REASONS[reason]}
        </div>
      ) : null}
      <div className="grid grid-2">
        <form className="card stack" onSubmit={onSignup} noValidate aria-labelledby="signup-title">
          <h2 id="signup-title">Create an organisation</h2>
          <label className="field">
            <span>Organisation name</span>
            <input
              name="org_name"
              required
              autoComplete="organization"
              value={orgName}
              onChange={(e) => setOrgName(e.target.value)}
              aria-invalid={Boolean(fieldError("org_name"))}
              aria-describedby="org-name-error"
            />
            <span id="org-name-error" className="error">
              {fieldError("org_name")}
            </span>
          </label>
          <label className="field">
            <span>Email</span>
            <input
              name="email"
              type="email"
              required
              autoComplete="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-invalid={Boolean(fieldError("email"))}
              aria-describedby="email-error"
            />
            <span id="email-error" className="error">
              {fieldError("email")}
            </span>
          </label>
          {typeof signupError === "string" || (signupError instanceof ApiError && !signupError.param) ? (
            <p className="error bad" role="alert">
              {typeof signupError === "string" ? signupError : problem(signupError)}
            </p>
          ) : null}
          <div>
            <button className="button button-primary" type="submit" disabled={busy}>
              Create organisation
            </button>
          </div>
          <p className="muted">You get an admin key at once. No card, no email confirmation.</p>
        </form>
        <form className="card stack" onSubmit={onSignin} noValidate aria-labelledby="signin-title">
          <h2 id="signin-title">Sign in with a key</h2>
          <label className="field">
            <span>API key</span>
            <input
              name="api_key"
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="asahi_…"
              value={pasted}
              onChange={(e) => setPasted(e.target.value)}
              aria-invalid={Boolean(signinError)}
              aria-describedby="signin-error"
            />
            <span id="signin-error" className="error" role={signinError ? "alert" : undefined}>
              {signinError}
            </span>
          </label>
          <div>
            <button className="button button-primary" type="submit" disabled={busy || !pasted.trim()}>
              Sign in
            </button>
          </div>
          <p className="muted">The key stays in this browser (local storage) and is sent only to the API.</p>
        </form>
      </div>
      <p className="muted">
        API: <code>{connection.apiUrl || "…"}</code> · <Link href="/settings/">change</Link>
      </p>
    </div>
  );
}
