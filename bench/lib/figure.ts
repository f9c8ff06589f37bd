import type { FigureName } from './options.js';

/** One row of the table: a measured figure beside what it is compared with. */
export interface Figure {
  /** The BENCH_ONLY name this row belongs to. */
  name: FigureName;
  /** What is measured, as the table states it. */
  title: string;
  unit: string;
  samples: number[];
  /** A measured baseline has samples in the same unit; a stated one only its label. */
  baseline: { label: string; samples?: number[] };
  /** The timings and sizes it was measured under. */
  conditions: string;
  note?: string;
  /** Anything else worth keeping in the JSON (breakdowns, curves, raw figures). */
  extra?: Record<string, unknown>;
}

/** Nearest-rank quantile; NaN for no samples. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

export interface Summary {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  return { p50: quantile(values, 0.5), p99: quantile(values, 0.99), max: values.length > 0 ? Math.max(...values) : Number.NaN, n: values.length };
}

/** Three significant figures at most, and no noise below them: 2655, 41.3, 0.87. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100 || Number.isInteger(value)) return String(Math.round(value));
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function describeBaseline(figure: Figure): string {
  const { label, samples } = figure.baseline;
  if (!samples || samples.length === 0) return label;
  const s = summarize(samples);
  return s.n === 1 ? `${label}: ${formatNumber(s.p50)}` : `${label}: p50 ${formatNumber(s.p50)}, p99 ${formatNumber(s.p99)} (n ${s.n})`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The figures as a markdown table, ready for the README. */
export function renderTable(figures: readonly Figure[], failures: readonly { suite: string; error: string }[]): string {
  const lines = ['| figure | p50 | p99 | max | n | unit | baseline | conditions |', '|---|---|---|---|---|---|---|---|'];
  for (const f of figures) {
    const s = summarize(f.samples);
    const conditions = f.note ? `${f.conditions}; ${f.note}` : f.conditions;
    lines.push(`| ${cell(f.title)} | ${formatNumber(s.p50)} | ${formatNumber(s.p99)} | ${formatNumber(s.max)} | ${s.n} | ${cell(f.unit)} | ${cell(describeBaseline(f))} | ${cell(conditions)} |`);
  }
  for (const failure of failures) lines.push(`| ${cell(failure.suite)}: FAILED | – | – | – | 0 | | | ${cell(failure.error.split('\n')[0] ?? '')} |`);
  return lines.join('\n');
}

/** The figure as the JSON file keeps it: the summary beside every sample. */
export function toJson(figure: Figure): Record<string, unknown> {
  return {
    ...figure,
    ...summarize(figure.samples),
    baseline: { ...figure.baseline, ...(figure.baseline.samples ? summarize(figure.baseline.samples) : {}) },
  };
}
