import { ValidationError } from './errors.js';

/** A source of the current instant. Core code is given one (or `now`) and never reads the clock itself. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses an ISO-8601 instant: `2026-03-08T07:30:00Z`, `2026-03-08T02:30-05:00`, `2026-03-08` (midnight). A time
 * without an offset is read as UTC. Rejects impossible dates (2026-02-30) instead of rolling them over, as
 * `Date.parse` would.
 */
export function parseInstant(text: string, field: string): number {
  const m = ISO.exec(text.trim());
  if (!m) throw new ValidationError(field, `"${text}" is not an ISO-8601 date-time; expected e.g. 2026-03-08T07:30:00Z`);
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (year < 1970) throw new ValidationError(field, `year ${year} in "${text}" is before 1970`);
  if (month < 1 || month > 12) throw new ValidationError(field, `month ${month} in "${text}" is out of range 1-12`);
  const dim = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > dim) throw new ValidationError(field, `day ${day} does not exist in ${m[1] ?? ''}-${m[2] ?? ''}`);
  if (hour > 23 || minute > 59 || second > 59) throw new ValidationError(field, `time in "${text}" is not a valid time of day`);
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 18 || om > 59) throw new ValidationError(field, `offset "${zone}" in "${text}" is not valid`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
}

/** Date's range: ±8.64e15 ms around 1970. */
const MAX_DATE_MS = 8.64e15;

/**
 * `2026-03-08T07:30:00Z` (milliseconds shown only when present). Never throws: an instant outside Date's range
 * (read from a store an older version wrote, say) prints as `invalid instant (Infinity)` — shown, not a crash.
 */
export function formatInstant(ms: number): string {
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return `invalid instant (${String(ms)})`;
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** A clock that moves only when told to: simulations run as fast as the CPU allows. */
export class VirtualClock implements Clock {
  private current: number;
  constructor(start: number) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  set(t: number): void {
    if (t < this.current) throw new RangeError('a virtual clock never goes back');
    this.current = t;
  }
}

/** Simulated time running `speed` times faster than `base`: `start` at the base instant `origin` [now]. */
export class ScaledClock implements Clock {
  private readonly origin: number;
  private readonly start: number;
  private readonly speed: number;
  private readonly base: Clock;
  constructor(start: number, speed: number, base: Clock = systemClock, origin: number = base.now()) {
    this.start = start;
    this.speed = speed;
    this.base = base;
    this.origin = origin;
  }
  now(): number {
    // Whole seconds: simulated timelines read cleanly, and nothing here needs finer time.
    return Math.floor((this.start + (this.base.now() - this.origin) * this.speed) / 1000) * 1000;
  }
}
