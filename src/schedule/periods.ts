import type { Schedule } from './schedule.js';

/** A half-open interval [start, end) of epoch ms. */
export interface Period {
  readonly start: number;
  readonly end: number;
}

/** Sorts and merges periods that overlap or touch; the result is disjoint and ascending. */
export function unionPeriods(periods: Iterable<Period>): Period[] {
  const sorted = [...periods].filter((p) => p.end > p.start).sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last !== undefined && p.start <= last.end) last.end = Math.max(last.end, p.end);
    else out.push({ start: p.start, end: p.end });
  }
  return out;
}

/** Bound on how many windows one merged period may chain, so an always-overlapping schedule cannot spin. */
const MAX_CHAIN = 10_000;

/**
 * The merged active period containing `at` across several windows (each active from start − ahead to end), or
 * null. Overlapping or touching windows — of one schedule or of several — form one period, as the union rule of
 * seed 000 says.
 */
export function activeUnionAt(schedules: readonly Schedule[], at: number, startAheadMs = 0): Period | null {
  let start = Infinity;
  let end = -Infinity;
  for (const s of schedules) {
    const w = s.windowAt(at, startAheadMs);
    if (w) {
      start = Math.min(start, w.start - startAheadMs);
      end = Math.max(end, w.end);
    }
  }
  if (end === -Infinity) return null;
  for (let i = 0; i < MAX_CHAIN; i++) {
    let grew = false;
    for (const s of schedules) {
      const later = s.windowAt(end, startAheadMs);
      if (later && later.end > end) {
        end = later.end;
        grew = true;
      }
      const earlier = s.windowAt(start - 1, startAheadMs);
      if (earlier && earlier.start - startAheadMs < start) {
        start = earlier.start - startAheadMs;
        grew = true;
      }
    }
    if (!grew) break;
  }
  return { start, end };
}

/**
 * Merged active periods (start − ahead to end) of several windows that overlap [from, to), ascending. A period in
 * progress at `from` is reported from the start of its earliest window that still overlaps `from`.
 */
export function unionBetween(schedules: readonly Schedule[], from: number, to: number, startAheadMs = 0, limit = 100_000): Period[] {
  const periods: Period[] = [];
  for (const s of schedules) {
    const duration = s.durationMs ?? 0;
    for (const o of s.between(from - duration, to + startAheadMs, limit)) {
      periods.push({ start: o.start - startAheadMs, end: o.start + duration });
    }
  }
  const merged = unionPeriods(periods);
  return merged.filter((p) => p.end > from && p.start < to);
}
