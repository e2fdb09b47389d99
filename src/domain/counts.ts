import { quoted } from './durations.js';
import { ValidationError } from './errors.js';

/**
 * "N or N%": an absolute number of instances, or a percentage of them — a fleet size, a capacity floor, and a
 * maintenance task's MaxConcurrency and MaxErrors alike. One type, one parser (`parseCount`), one formatter.
 */
export type Count = { readonly kind: 'absolute'; readonly value: number } | { readonly kind: 'percent'; readonly value: number };

/** The largest absolute count: more instances than any fleet has; past it a value is a typo. */
export const MAX_COUNT = 999_999;

/** How a count may be written where it is read: each place keeps the syntax (and messages) it always had. */
export interface CountSyntax {
  /** The whole text: digits, then `%` (or `p`/`P`) for a percentage. Ranges the pattern encodes need no check below. */
  readonly pattern: RegExp;
  /** What the message says was expected: `expected <this>, got <input>`. */
  readonly expected: string;
  /** Surrounding whitespace is ignored. */
  readonly trim: boolean;
  /** The largest absolute value (a larger one is refused with its range). */
  readonly max: number;
}

/** Fleet sizes and capacity floors: `N`, `N%` or `Np` (`p`/`P` where tag values cannot hold `%`); 0-100%. */
export const FLEET_COUNT: CountSyntax = { pattern: /^\d+[%pP]?$/, expected: 'N, N% or Np', trim: true, max: MAX_COUNT };
/** SSM's MaxConcurrency (the API's pattern, at most 7 characters): a positive integer or 1%-100%. */
export const MAX_CONCURRENCY: CountSyntax = { pattern: /^([1-9][0-9]{0,6}|[1-9][0-9]?%|100%)$/, expected: 'a positive whole number or 1%-100%', trim: false, max: 9_999_999 };
/** SSM's MaxErrors (the API's pattern, at most 7 characters): an integer ≥ 0 or 0%-100%. */
export const MAX_ERRORS: CountSyntax = { pattern: /^([1-9][0-9]{0,6}|0|[1-9]?[0-9]%|100%)$/, expected: 'a whole number ≥ 0 or 0%-100%', trim: false, max: 9_999_999 };

/**
 * Parses a count written in `syntax` (fleet counts by default). Throws a `ValidationError` on `field` naming what
 * was expected, or the range a value is out of.
 */
export function parseCount(input: unknown, field: string, syntax: CountSyntax = FLEET_COUNT): Count {
  // 1e21 prints as "1e+21": say what is wrong with it, not that it is not a number.
  if (typeof input === 'number' && Number.isInteger(input) && input > syntax.max) throw new ValidationError(field, `a count must be from 0 to ${syntax.max}, got ${quoted(input)}`);
  const raw = typeof input === 'number' ? String(input) : typeof input === 'string' ? input : undefined;
  const text = syntax.trim ? raw?.trim() : raw;
  if (text === undefined || !syntax.pattern.test(text)) throw new ValidationError(field, `expected ${syntax.expected}, got ${quoted(input)}`);
  const percent = /[%pP]$/.test(text);
  const value = Number(percent ? text.slice(0, -1) : text);
  if (!percent) {
    if (value > syntax.max) throw new ValidationError(field, `a count must be from 0 to ${syntax.max}, got ${quoted(input)}`);
    return { kind: 'absolute', value };
  }
  if (value > 100) throw new ValidationError(field, `a percentage must be from 0% to 100%, got ${value}%`);
  return { kind: 'percent', value };
}

/** A maintenance task's MaxConcurrency. */
export function parseMaxConcurrency(text: string, field = 'maxConcurrency'): Count {
  return parseCount(text, field, MAX_CONCURRENCY);
}

/** A maintenance task's MaxErrors. */
export function parseMaxErrors(text: string, field = 'maxErrors'): Count {
  return parseCount(text, field, MAX_ERRORS);
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
