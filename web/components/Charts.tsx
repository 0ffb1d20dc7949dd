"use client";

import {
  Bar,
  BarChart,
  CartesianGrid,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { bucketLabel } from "@/lib/format";

export interface Series {
  key: string;
  label: string;
  color: string; // a CSS colour, variables included
}

type Row = Record<string, number | string>;

const axis = { stroke: "var(--muted)", fontSize: 12, tickLine: false };

function Legend({ series }: { series: Series[] }) {
  return (
    <div className="chart-legend" aria-hidden="true">
      {series.map((s) => (
        <span key={s.key}>
          <span className="swatch" style={{ background: s.color }} />
          {s.label}
        </span>
      ))}
    </div>
  );
}

/** A chart has a text equivalent for screen readers: `summary` says what it shows in words. */
function Figure({ summary, series, children }: { summary: string; series: Series[]; children: React.ReactElement }) {
  return (
    <figure style={{ margin: 0 }}>
      <div className="chart" role="img" aria-label={summary}>
        <ResponsiveContainer width="100%" height="100%">
          {children}
        </ResponsiveContainer>
      </div>
      <Legend series={series} />
    </figure>
  );
}

function tooltipStyle() {
  return {
    contentStyle: { background: "var(--panel)", border: "1px solid var(--border)", borderRadius: 8, color: "var(--text)" },
    labelStyle: { color: "var(--muted)" },
  };
}

export function Bars({
  rows,
  series,
  granularity,
  format,
  axisFormat = format,
  summary,
  stacked = true,
  integers = false,
}: {
  rows: Row[];
  series: Series[];
  granularity: "hour" | "day";
  format: (value: number) => string;
  axisFormat?: (value: number) => string;
  summary: string;
  stacked?: boolean;
  integers?: boolean;
}) {
  return (
    <Figure summary={summary} series={series}>
      <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
        <CartesianGrid vertical={false} stroke="var(--border)" />
        <XAxis dataKey="start" tickFormatter={(v: string) => bucketLabel(v, granularity)} {...axis} minTickGap={16} />
        <YAxis tickFormatter={(v: number) => axisFormat(v)} allowDecimals={!integers} {...axis} width={80} />
        <Tooltip
          {...tooltipStyle()}
          cursor={{ fill: "var(--panel-2)" }}
          labelFormatter={(v) => bucketLabel(String(v), granularity)}
          formatter={(value, name) => [format(Number(value)), series.find((s) => s.key === name)?.label ?? name]}
        />
        {series.map((s) => (
          <Bar
            key={s.key}
            dataKey={s.key}
            stackId={stacked ? "one" : undefined}
            fill={s.color}
            maxBarSize={48}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    </Figure>
  );
}
