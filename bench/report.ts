// Turns merged load-generator output into the figures the benchmark reports (ops/s, latency
// percentiles per operation, errors by kind, gaps in the success timeline) and formats them as
// terminal tables. Pure apart from formatting; writes no files.
import { build, type Histogram } from 'hdr-histogram-js';
import type { MergedPhase, MergedWindow } from './loadgen/driver.ts';
import { FAILOVER_PREFIX, TIMELINE_BUCKET_MS } from './loadgen/protocol.ts';
import { OP_KINDS, type OpKind } from './workloads.ts';

export interface LatencySummary {
  readonly count: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export interface WindowSummary {
  readonly durationS: number;
  /** Successful operations per second, all kinds together. */
  readonly opsPerSec: number;
  readonly ops: Partial<Record<OpKind, LatencySummary>>;
  /** Latency over every successful operation of the window, all kinds together. */
  readonly combined?: LatencySummary;
  /** Latency over every request of the window, failed ones included (a timeout counts as its wait). */
  readonly withFailures?: LatencySummary;
  readonly errorCount: number;
  readonly errors: Record<string, number>;
}

export interface PhaseSummary extends WindowSummary {
  /** CPU of the load generator processes, in % of one core. */
  readonly generatorCpuPct: number;
  /** dynakv reads that answered 300 (siblings), counted as successful reads. */
  readonly siblingReads: number;
}

const us = (v: number) => v / 1000;

function latency(h: Histogram, durationS: number): LatencySummary {
  return {
    count: h.totalCount,
    opsPerSec: h.totalCount / durationS,
    p50Ms: us(h.getValueAtPercentile(50)),
    p95Ms: us(h.getValueAtPercentile(95)),
    p99Ms: us(h.getValueAtPercentile(99)),
    p999Ms: us(h.getValueAtPercentile(99.9)),
    maxMs: us(h.maxValue),
    meanMs: us(h.mean),
  };
}

export function summarizeWindow(window: MergedWindow, durationS: number): WindowSummary {
  const ops: WindowSummary['ops'] = {};
  let total = 0;
  let combinedHistogram: Histogram | undefined;
  for (const op of OP_KINDS) {
    const h = window.histograms.get(op);
    if (h === undefined || h.totalCount === 0) continue;
    ops[op] = latency(h, durationS);
    total += h.totalCount;
    combinedHistogram ??= build({ lowestDiscernibleValue: 1, highestTrackableValue: h.highestTrackableValue, numberOfSignificantValueDigits: 3 });
    combinedHistogram.add(h);
  }
  let withFailures: Histogram | undefined;
  if (window.failed !== undefined) {
    withFailures = build({ lowestDiscernibleValue: 1, highestTrackableValue: window.failed.highestTrackableValue, numberOfSignificantValueDigits: 3 });
    withFailures.add(window.failed);
    if (combinedHistogram !== undefined) withFailures.add(combinedHistogram);
  } else {
    withFailures = combinedHistogram;
  }
  const errors = Object.fromEntries([...window.errors].sort((a, b) => b[1] - a[1]));
  const errorCount = [...window.errors].reduce((a, [kind, n]) => (kind.startsWith(FAILOVER_PREFIX) ? a : a + n), 0);
  return {
    durationS,
    opsPerSec: total / durationS,
    ops,
    ...(combinedHistogram === undefined ? {} : { combined: latency(combinedHistogram, durationS) }),
    ...(withFailures === undefined ? {} : { withFailures: latency(withFailures, durationS) }),
    errorCount,
    errors,
  };
}

export function summarizePhase(phase: MergedPhase): PhaseSummary {
  const durationS = Math.max(0.001, (phase.endedAtMs - phase.startedAtMs) / 1000);
  return {
    ...summarizeWindow(phase.all, durationS),
    generatorCpuPct: (100 * phase.generatorCpuMs) / (durationS * 1000),
    siblingReads: phase.siblingReads,
  };
}

/** The longest run of timeline buckets with no successful completion within [fromMs, toMs). */
export function longestGap(timeline: Uint32Array, fromMs: number, toMs: number): { readonly gapMs: number; readonly startMs: number } {
  const from = Math.max(0, Math.floor(fromMs / TIMELINE_BUCKET_MS));
  const to = Math.min(timeline.length, Math.ceil(toMs / TIMELINE_BUCKET_MS));
  let best = 0;
  let bestStart = from;
  let run = 0;
  for (let i = from; i < to; i++) {
    if (timeline[i] === 0) {
      run++;
      if (run > best) {
        best = run;
        bestStart = i - run + 1;
      }
    } else {
      run = 0;
    }
  }
  return { gapMs: best * TIMELINE_BUCKET_MS, startMs: bestStart * TIMELINE_BUCKET_MS };
}

/** Successful operations per second in consecutive buckets of bucketMs. */
export function throughputSeries(timeline: Uint32Array, bucketMs: number): number[] {
  const per = Math.max(1, Math.round(bucketMs / TIMELINE_BUCKET_MS));
  const out: number[] = [];
  for (let i = 0; i < timeline.length; i += per) {
    let sum = 0;
    for (let j = i; j < Math.min(timeline.length, i + per); j++) sum += timeline[j]!;
    out.push(Math.round((sum * 1000) / bucketMs));
  }
  return out;
}

// ---- formatting ----

export function fmtNumber(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

export function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/** A titled table with notes under it, rendered for the terminal or for Markdown. */
export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly notes: readonly string[];
}

export function renderTerminal(t: Table): string {
  return [`\n${t.title}`, table(t.headers, t.rows), ...t.notes.map((n) => `  ${n}`)].join('\n');
}

export function renderMarkdown(t: Table): string {
  return [`#### ${t.title}`, '', markdownTable(t.headers, t.rows), '', ...t.notes.map((n) => `- ${n}`), ''].join('\n');
}

/** A plain aligned table; numbers are right-aligned. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-\d.,x%]+( ms)?$|^-$/.test(r[i] ?? '-')));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A Markdown table, for pasting into BENCHMARKS.md. */
export function markdownTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const LATENCY_HEADERS = ['ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms'] as const;

export function latencyCells(s: LatencySummary | undefined): string[] {
  return [fmtNumber(s?.opsPerSec), fmtNumber(s?.p50Ms), fmtNumber(s?.p95Ms), fmtNumber(s?.p99Ms), fmtNumber(s?.p999Ms), fmtNumber(s?.maxMs)];
}

export function ratioCells(a: LatencySummary | undefined, b: LatencySummary | undefined): string[] {
  return [fmtRatio(a?.opsPerSec, b?.opsPerSec), fmtRatio(a?.p50Ms, b?.p50Ms), fmtRatio(a?.p95Ms, b?.p95Ms), fmtRatio(a?.p99Ms, b?.p99Ms), fmtRatio(a?.p999Ms, b?.p999Ms), fmtRatio(a?.maxMs, b?.maxMs)];
}

export function errorText(errors: Record<string, number>, max = 3): string {
  const entries = Object.entries(errors);
  if (entries.length === 0) return '0';
  const shown = entries.slice(0, max).map(([k, n]) => `${n} ${k}`);
  if (entries.length > max) shown.push(`+${entries.length - max} kinds`);
  return shown.join('; ');
}
