"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState, type ReactNode } from "react";
import { useSession } from "@/components/Session";
import { keyPrefix } from "@/lib/config";

const PAGES = [
  { href: "/", label: "Overview" },
  { href: "/requests/", label: "Requests" },
  { href: "/playground/", label: "Playground" },
  { href: "/cache/", label: "Cache" },
  { href: "/keys/", label: "Keys" },
  { href: "/policy/", label: "Policy" },
  { href: "/settings/", label: "Settings" },
];
const OPEN_PAGES = new Set(["/signin/", "/settings/"]); // usable without a key

type Theme = "system" | "light" | "dark";

function applyTheme(theme: Theme) {
  if (theme === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", theme);
}

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>("system");
  useEffect(() => {
    const stored = window.localStorage.getItem("asahi.theme");
    // eslint-disable-next-line react-hooks/set-state-in-effect -- read once after hydration
    if (stored === "light" || stored === "dark") setTheme(stored);
  }, []);
  return (
    <label className="theme-switch">
      <span className="visually-hidden">Colour theme</span>
      <select
        value={theme}
        onChange={(event) => {
          const next = event.target.value as Theme;
          setTheme(next);
          applyTheme(next);
          if (next === "system") window.localStorage.removeItem("asahi.theme");
          else window.localStorage.setItem("asahi.theme", next);
        }}
      >
        <option value="system">Theme: system</option>
        <option value="light">Theme: light</option>
        <option value="dark">Theme: dark</option>
      </select>
    </label>
  );
}

export function Shell({ children }: { children: ReactNode }) {
  const { ready, connection, orgName, signedOutFor, signOut } = useSession();
  const pathname = usePathname();
  const router = useRouter();
  const [menuOpen, setMenuOpen] = useState(false);
  const signedIn = Boolean(connection.apiKey);
  const path = pathname.endsWith("/") ? pathname : `${pathname}/`;
  const needsKey = !OPEN_PAGES.has(path);

  useEffect(() => {
    if (ready && needsKey && !signedIn) {
      router.replace(signedOutFor ? `/signin/?reason=${encodeURIComponent(signedOutFor)}` : "/signin/");
    }
  }, [ready, needsKey, signedIn, signedOutFor, router]);

  // eslint-disable-next-line react-hooks/set-state-in-effect -- a new page closes the small-screen menu
  useEffect(() => setMenuOpen(false), [pathname]);

  const pages = signedIn ? PAGES : PAGES.filter((p) => OPEN_PAGES.has(p.href));
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href={signedIn ? "/" : "/signin/"} className="brand">
          <span aria-hidden="true" className="brand-mark">
            ☀
          </span>
          Asahi
        </Link>
        <button
          type="button"
          className="button button-ghost menu-button"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <div className="topbar-end">
          {signedIn ? (
            <span className="who" title="The key this browser sends">
              {orgName ?? "Signed in"} · <code>{keyPrefix(connection.apiKey) ?? "key"}</code>
            </span>
          ) : null}
          <ThemeSwitch />
          {signedIn ? (
            <button
              type="button"
              className="button button-ghost"
              onClick={() => {
                signOut();
                router.replace("/signin/");
              }}
            >
              Sign out
            </button>
          ) : null}
        </div>
      </header>
      <div className="frame">
        <nav id="nav" aria-label="Pages" className={menuOpen ? "nav nav-open" : "nav"}>
          <ul>
            {!signedIn ? (
              <li>
                <Link href="/signin/" aria-current={path === "/signin/" ? "page" : undefined}>
                  Sign up / sign in
                </Link>
              </li>
            ) : null}
            {pages.map((page) => (
              <li key={page.href}>
                <Link href={page.href} aria-current={path === page.href ? "page" : undefined}>
                  {page.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {!ready || (needsKey && !signedIn) ? <p className="muted">Loading…</p> : children}
        </main>
      </div>
    </div>
  );
}
