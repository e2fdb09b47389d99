import { ValidationError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Parses a duration: `30s`, `15m`, `1h`, `2h30m`, `1d`, or a bare number of seconds. Returns milliseconds.
 * Throws a `ValidationError` on `field`.
 */
export function parseDuration(input: unknown, field: string): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new ValidationError(field, `expected a duration such as 30s, 15m or 1h, got ${String(input)}`);
    return Math.round(input * 1000);
  }
  if (typeof input !== 'string' || input.trim() === '') throw new ValidationError(field, `expected a duration such as 30s, 15m or 1h, got ${JSON.stringify(input)}`);
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
    consumed = PART.lastIndex;
  }
  if (consumed !== text.length) throw new ValidationError(field, `expected a duration such as 30s, 15m, 1h or 2h30m, got ${JSON.stringify(input)}`);
  return Math.round(total);
}

/** 5400000 -> "1h30m"; 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
