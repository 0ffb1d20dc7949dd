"use client";

import Link from "next/link";
import type { ReactNode } from "react";
import type { ApiError } from "@/lib/api";
import { useSession } from "@/components/Session";

/** What every page shows when a read fails: unreachable, 403, 429 (with its countdown) or the API's message. */
export function ErrorState({ error, retryIn, onRetry }: { error: ApiError; retryIn?: number | null; onRetry?: () => void }) {
  const { connection } = useSession();
  let title = "The API refused this request";
  let body: ReactNode = error.message;
  if (error.unreachable) {
    title = "The API can't be reached";
    body = (
      <>
        Nothing answered at <code>{connection.apiUrl}</code>. Check that Asahi is running there, or set its address
        in <Link href="/settings/">Settings</Link>.
      </>
    );
  } else if (error.status === 403) {
    title = "This key may not do that";
    body = (
      <>
        {error.message} Sign in with a key that has the scope this page needs (an <strong>admin</strong> key can do
        everything in its org).
      </>
    );
  } else if (error.status === 429) {
    title = "Too many requests";
    body = retryIn
      ? `The API asked us to wait. Trying again in ${retryIn} s.`
      : error.retryAfter
        ? `The API asked us to wait ${error.retryAfter} s before trying again.`
        : "The API asked us to wait before trying again.";
  }
  return (
    <div className="notice notice-error" role="alert">
      <strong>{title}</strong>
      <p>{body}</p>
      {onRetry && !(error.status === 429 && retryIn) ? (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}
