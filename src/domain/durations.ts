import { ValidationError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
export const SECOND_MS = 1000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/**
 * No duration anywhere is longer than this (10 years). Fields have tighter bounds of their own; this one keeps every
 * instant computed from a duration (`now + leaseTtl`, `start − startAhead`) inside what a Date can hold.
 */
export const MAX_DURATION_MS = 3650 * DAY_MS;

/** An input quoted in a message, cut short: a value can be as long as the file it came from. */
export function quoted(input: unknown): string {
  const text = typeof input === 'number' ? String(input) : ((JSON.stringify(input) as string | undefined) ?? String(input));
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Parses a duration: `30s`, `15m`, `1h`, `2h30m`, `1d`, or a bare number of seconds. Returns milliseconds.
 * Throws a `ValidationError` on `field` for anything else, or anything longer than `max` (10 years by default).
 */
export function parseDuration(input: unknown, field: string, max: number = MAX_DURATION_MS): number {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new ValidationError(field, `expected a duration such as 30s, 15m or 1h, got ${quoted(input)}`);
    ms = Math.round(input * 1000);
  } else {
    if (typeof input !== 'string' || input.trim() === '') throw new ValidationError(field, `expected a duration such as 30s, 15m or 1h, got ${quoted(input)}`);
    const text = input.trim();
    if (/^\d+(\.\d+)?$/.test(text)) ms = Math.round(Number(text) * 1000);
    else {
      let total = 0;
      PART.lastIndex = 0;
      let consumed = 0;
      for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
        total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
        consumed = PART.lastIndex;
      }
      if (consumed !== text.length) throw new ValidationError(field, `expected a duration such as 30s, 15m, 1h or 2h30m, got ${quoted(input)}`);
      ms = Math.round(total);
    }
  }
  // Infinity (`1e400`, a thousand 9s) fails this too.
  if (!(ms <= max)) throw new ValidationError(field, `must be at most ${formatDuration(max)}, got ${quoted(input)}`);
  return ms;
}

/** 5400000 -> "1h30m"; 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (!Number.isFinite(ms)) return String(ms);
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
