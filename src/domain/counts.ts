import { quoted } from './durations.js';
import { ValidationError } from './errors.js';

/** A fleet size: an absolute number of instances, or a percentage of the fleet. */
export type Count = { readonly kind: 'absolute'; readonly value: number } | { readonly kind: 'percent'; readonly value: number };

const COUNT = /^(\d+)([%pP]?)$/;
/** The largest absolute count: more instances than any fleet has; past it a value is a typo. */
export const MAX_COUNT = 999_999;

/**
 * Parses `N`, `N%` or `Np` (`p` or `P` stands for `%` where tag values cannot hold it). Percentages are 0-100.
 * Throws a `ValidationError` on `field` naming what was expected.
 */
export function parseCount(input: unknown, field: string): Count {
  // 1e21 prints as "1e+21": say what is wrong with it, not that it is not a number.
  if (typeof input === 'number' && Number.isInteger(input) && input > MAX_COUNT) throw new ValidationError(field, `a count must be from 0 to ${MAX_COUNT}, got ${quoted(input)}`);
  const text = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim() : undefined;
  const m = text === undefined ? null : COUNT.exec(text);
  if (!m) throw new ValidationError(field, `expected N, N% or Np, got ${quoted(input)}`);
  const value = Number(m[1]);
  if (m[2] === '') {
    if (value > MAX_COUNT) throw new ValidationError(field, `a count must be from 0 to ${MAX_COUNT}, got ${quoted(input)}`);
    return { kind: 'absolute', value };
  }
  if (value > 100) throw new ValidationError(field, `a percentage must be from 0% to 100%, got ${value}%`);
  return { kind: 'percent', value };
}

/** `N%` of a fleet of `total` instances is ceil(N/100 × total); absolute counts are capped at `total`. */
export function resolveCount(count: Count, total: number): number {
  if (count.kind === 'absolute') return Math.min(count.value, total);
  return Math.ceil((count.value * total) / 100);
}

export function isFull(count: Count | null): boolean {
  return count !== null && count.kind === 'percent' && count.value === 100;
}

export function formatCount(count: Count): string {
  return count.kind === 'absolute' ? String(count.value) : `${count.value}%`;
}
