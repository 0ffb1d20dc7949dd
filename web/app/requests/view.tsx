"use client";

import { createColumnHelper, flexRender, getCoreRowModel, useReactTable } from "@tanstack/react-table";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import { Dialog } from "@/components/Dialog";
import { RequestDetail, StatusBadge, TierBadge } from "@/components/RequestDetail";
import { Empty, ErrorState, Loading } from "@/components/States";
import { useQuery } from "@/lib/hooks";
import { CACHE_LABELS, dateTime, ms, shortDateTime, usd } from "@/lib/format";
import { TIERS, type Facets, type LedgerRow, type Page } from "@/lib/types";

interface Filters {
  model: string;
  cache: string;
  status: string;
  key_id: string;
  limit: string;
}

const column = createColumnHelper<LedgerRow>();

export function Requests() {
  const router = useRouter();
  const pathname = usePathname();
  const openId = useSearchParams().get("id");
  const [filters, setFilters] = useState<Filters>({ model: "", cache: "", status: "", key_id: "", limit: "25" });
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // the cursor of each page seen so far
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useQuery<Page<LedgerRow>>("/analytics/requests", { ...filters, cursor });
  const facets = useQuery<Facets>("/analytics/facets");
  const opened = page.data?.data.find((r) => r.request_id === openId);
  const detail = useQuery<LedgerRow>(openId && !opened ? `/analytics/requests/${encodeURIComponent(openId)}` : null);

  const open = (id: string | null) => router.replace(id ? `${pathname}?id=${encodeURIComponent(id)}` : pathname);

  const columns = useMemo(
    () => [
      column.accessor("created_at", {
        header: "Time",
        cell: (info) => (
          <button
            type="button"
            className="link-button"
            title={dateTime(info.getValue())}
            onClick={() => open(info.row.original.request_id)}
          >
            {shortDateTime(info.getValue())}
          </button>
        ),
      }),
      column.accessor("model", { header: "Model", cell: (info) => info.getValue() ?? "—" }),
      column.accessor("cache_tier", { header: "Cache", cell: (info) => <TierBadge tier={info.getValue()} /> }),
      column.accessor("status", {
        header: "Status",
        cell: (info) => <StatusBadge status={info.getValue()} code={info.row.original.error_code} />,
      }),
      column.accessor("cost_usd", { header: "Cost", cell: (info) => usd(info.getValue()), meta: { num: true } }),
      column.accessor("baseline_cost_usd", {
        header: "Without Asahi",
        cell: (info) => usd(info.getValue()),
        meta: { num: true },
      }),
      column.accessor("saved_usd", { header: "Saved", cell: (info) => usd(info.getValue()), meta: { num: true } }),
      column.accessor("latency_ms", { header: "Latency", cell: (info) => ms(info.getValue()), meta: { num: true } }),
      column.accessor("key_name", {
        header: "Key",
        cell: (info) => info.getValue() ?? info.row.original.key_prefix ?? "—",
      }),
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `open` only closes over the router and path
    [pathname],
  );
  // TanStack Table keeps its own state; the compiler leaves this component unmemoised, which is fine at 100 rows.
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({ data: page.data?.data ?? [], columns, getCoreRowModel: getCoreRowModel() });

  const change = (name: keyof Filters, value: string) => {
    setFilters((current) => ({ ...current, [name]: value }));
    setCursors([null]);
  };
  const filtered = Boolean(filters.model || filters.cache || filters.status || filters.key_id);
  const shown = opened ?? detail.data;

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Requests</h1>
          <p className="muted">Every request in the ledger, newest first. Open one to see why it cost what it did.</p>
        </div>
      </div>
      <form className="row card" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span>Model</span>
          <select value={filters.model} onChange={(e) => change("model", e.target.value)}>
            <option value="">All models</option>
            {(facets.data?.models ?? []).map((m) => (
              <option key={m}>{m}</option>
            ))}
            <option value="asahi/auto">asahi/auto (asked for)</option>
          </select>
        </label>
        <label className="field">
          <span>Cache</span>
          <select value={filters.cache} onChange={(e) => change("cache", e.target.value)}>
            <option value="">All outcomes</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {CACHE_LABELS[t]}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Status</span>
          <select value={filters.status} onChange={(e) => change("status", e.target.value)}>
            <option value="">All</option>
            <option value="ok">Answered</option>
            <option value="error">Failed</option>
          </select>
        </label>
        <label className="field">
          <span>Key</span>
          <select value={filters.key_id} onChange={(e) => change("key_id", e.target.value)}>
            <option value="">All keys</option>
            {(facets.data?.keys ?? []).map((k) => (
              <option key={k.id} value={k.id}>
                {k.name ?? k.id} {k.prefix ? `(${k.prefix})` : ""}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Per page</span>
          <select value={filters.limit} onChange={(e) => change("limit", e.target.value)}>
            {["25", "50", "100"].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
      </form>
      {page.error ? <ErrorState error={page.error} retryIn={page.retryIn} onRetry={page.reload} /> : null}
      {!page.data && page.loading ? <Loading /> : null}
      {page.data && page.data.data.length === 0 ? (
        <Empty title={filtered ? "No request matches these filters" : "No requests yet"}>
          {filtered ? null : (
            <p>
              Send one from the <Link href="/playground/">Playground</Link>: it appears here within a second.
            </p>
          )}
        </Empty>
      ) : null}
      {page.data && page.data.data.length > 0 ? (
        <>
          <div className="table-wrap">
            <table data-testid="requests-table">
              <caption className="visually-hidden">Requests, newest first</caption>
              <thead>
                {table.getHeaderGroups().map((group) => (
                  <tr key={group.id}>
                    {group.headers.map((header) => (
                      <th
                        key={header.id}
                        scope="col"
                        className={(header.column.columnDef.meta as { num?: boolean } | undefined)?.num ? "num" : ""}
                      >
                        {flexRender(header.column.columnDef.header, header.getContext())}
                      </th>
                    ))}
                  </tr>
                ))}
              </thead>
              <tbody>
                {table.getRowModel().rows.map((row) => (
                  <tr
                    key={row.id}
                    className="clickable"
                    data-request-id={row.original.request_id}
                    onClick={(e) => {
                      if (!(e.target instanceof HTMLButtonElement)) open(row.original.request_id);
                    }}
                  >
                    {row.getVisibleCells().map((cell) => (
                      <td
                        key={cell.id}
                        className={(cell.column.columnDef.meta as { num?: boolean } | undefined)?.num ? "num" : ""}
                      >
                        {flexRender(cell.column.columnDef.cell, cell.getContext())}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="row" style={{ justifyContent: "space-between" }}>
            <button
              type="button"
              className="button"
              disabled={cursors.length <= 1}
              onClick={() => setCursors((c) => c.slice(0, -1))}
            >
              ← Newer
            </button>
            <span className="muted">Page {cursors.length}</span>
            <button
              type="button"
              className="button"
              disabled={!page.data.next_cursor}
              onClick={() => setCursors((c) => [...c, page.data?.next_cursor ?? null])}
            >
              Older →
            </button>
          </div>
        </>
      ) : null}
      <Dialog open={Boolean(openId)} title="Request" onClose={() => open(null)} wide>
        {shown ? <RequestDetail row={shown} /> : null}
        {!shown && detail.error ? <ErrorState error={detail.error} /> : null}
        {!shown && !detail.error ? <Loading /> : null}
      </Dialog>
    </div>
  );
}
