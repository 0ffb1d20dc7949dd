"use client";

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { Connection } from "@/lib/api";
import { defaultApiUrl, loadStored, normaliseUrl, saveApiUrl, saveKey } from "@/lib/config";

interface Session {
  ready: boolean; // false until browser storage was read: pages wait instead of flashing "signed out"
  connection: Connection;
  apiUrlOverride: string | null;
  orgName: string | null;
  signedOutFor: string | null; // why the API refused the key (its error code), for the sign-in page to say
  signIn(key: string, orgName?: string | null): void;
  signOut(reason?: string | null): void;
  setApiUrl(url: string | null): void;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [ready, setReady] = useState(false);
  const [apiUrlOverride, setOverride] = useState<string | null>(null);
  const [apiKey, setKey] = useState<string | null>(null);
  const [orgName, setOrgName] = useState<string | null>(null);
  const [fallbackUrl, setFallbackUrl] = useState("");
  const [signedOutFor, setSignedOutFor] = useState<string | null>(null);

  useEffect(() => {
    const stored = loadStored();
    // Browser storage exists only after hydration; reading it here is the one way to stay static.
    /* eslint-disable react-hooks/set-state-in-effect */
    setOverride(stored.apiUrlOverride);
    setKey(stored.apiKey);
    setOrgName(stored.orgName);
    setFallbackUrl(defaultApiUrl());
    setReady(true);
    /* eslint-enable react-hooks/set-state-in-effect */
  }, []);

  const signIn = useCallback((key: string, name: string | null = null) => {
    saveKey(key, name);
    setKey(key);
    setOrgName(name);
    setSignedOutFor(null);
  }, []);

  const signOut = useCallback((reason: string | null = null) => {
    saveKey(null);
    setKey(null);
    setOrgName(null);
    // A page's concurrent reads are all refused at once; the first refusal says why, and the others, whose bodies
    // may be cut short as the page leaves, must not replace it.
    setSignedOutFor((current) => current ?? reason);
  }, []);

  const setApiUrl = useCallback((url: string | null) => {
    const value = url && url.trim() ? normaliseUrl(url) : null;
    saveApiUrl(value);
    setOverride(value);
  }, []);

  const value = useMemo<Session>(
    () => ({
      ready,
      connection: { apiUrl: apiUrlOverride ?? fallbackUrl, apiKey },
      apiUrlOverride,
      orgName,
      signedOutFor,
      signIn,
      signOut,
      setApiUrl,
    }),
    [ready, apiUrlOverride, fallbackUrl, apiKey, orgName, signedOutFor, signIn, signOut, setApiUrl],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
