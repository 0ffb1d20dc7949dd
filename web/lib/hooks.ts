"use client";

import { useCallback, useEffect, useState } from "react";
import { useSession } from "@/components/Session";
import { ApiError, call, type CallOptions } from "@/lib/api";

/** `call` bound to the session; a 401 (key missing, revoked or expired) signs out, and the shell then goes back
 * to sign in saying why. */
export function useApi() {
  const { connection, signOut } = useSession();
  return useCallback(
    async <T,>(path: string, options: CallOptions = {}): Promise<T> => {
      try {
        return await call<T>(connection, path, options);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) signOut(error.code);
        throw error;
      }
    },
    [connection, signOut],
  );
}

export interface Query<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  retryIn: number | null; // seconds until a rate-limited read is tried again
  reload(): void;
}

/** A GET that reloads when `path` or `query` change, and retries by itself after a 429's retry-after. */
export function useQuery<T>(path: string | null, query?: CallOptions["query"]): Query<T> {
  const api = useApi();
  const { ready, connection } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [retryIn, setRetryIn] = useState<number | null>(null);
  const [attempt, setAttempt] = useState(0);
  const key = JSON.stringify(query ?? {});

  useEffect(() => {
    if (!ready || path === null || !connection.apiKey) return;
    const controller = new AbortController();
    /* eslint-disable-next-line react-hooks/set-state-in-effect -- a new request starts loading */
    setLoading(true);
    api<T>(path, { query: JSON.parse(key) as CallOptions["query"], signal: controller.signal })
      .then((result) => {
        setData(result);
        setError(null);
        setRetryIn(null);
      })
      .catch((caught: unknown) => {
        if (controller.signal.aborted) return;
        const failure =
          caught instanceof ApiError ? caught : new ApiError(0, "unreachable", "The API could not be reached.");
        setError(failure);
        setRetryIn(failure.status === 429 ? (failure.retryAfter ?? 5) : null);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [api, path, key, attempt, ready, connection.apiKey]);

  useEffect(() => {
    if (retryIn === null) return;
    if (retryIn <= 0) {
      /* eslint-disable-next-line react-hooks/set-state-in-effect -- the countdown ran out: try again */
      setRetryIn(null);
      setAttempt((n) => n + 1);
      return;
    }
    const timer = window.setTimeout(() => setRetryIn((s) => (s === null ? null : s - 1)), 1000);
    return () => window.clearTimeout(timer);
  }, [retryIn]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { data, error, loading, retryIn, reload };
}
