/** Small helpers shared by the benchmarks: timing loops and aligned output. */
import { performance } from 'node:perf_hooks';

export interface Measurement {
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
}

/** Runs `fn(i)` repeatedly for at least `minMs` (after a warm-up) and returns its throughput. */
export function measure(fn: (i: number) => unknown, minMs = 400): Measurement {
  let sink = 0;
  for (let i = 0; i < 200; i++) if (fn(i) !== undefined) sink++;
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++, ops++) if (fn(ops) !== undefined) sink++;
    elapsed = performance.now() - start;
  }
  if (sink < 0) console.log(sink); // keeps the calls observable to the optimiser
  return { ops, seconds: elapsed / 1000, opsPerSecond: ops / (elapsed / 1000) };
}

export function geometricMean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
