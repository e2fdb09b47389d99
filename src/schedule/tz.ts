import { ScheduleError } from '../domain/errors.js';

/** A wall-clock date and time in some zone; month is 1-12. */
export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const CACHE_LIMIT = 100_000;
/** Marks an hour bucket that contains a transition: those instants are computed exactly, never cached. */
const MIXED = Number.NaN;

/**
 * An IANA time zone backed by the platform's `Intl` (ICU's tzdata), never by a table of our own.
 *
 * `Intl.DateTimeFormat` costs microseconds per call, so offsets are cached per UTC day, and per UTC hour for the
 * days that hold a transition. A bucket is cached only when the offset at its first and last second agree; no zone
 * changes offset and back within one day, nor twice within one hour, so the cache never hides a transition
 * (Lord Howe's 30-minute shifts and Nepal's +05:45 included).
 */
export class TimeZone {
  private static readonly zones = new Map<string, TimeZone>();
  static readonly UTC = TimeZone.of('UTC');

  readonly name: string;
  private readonly format: Intl.DateTimeFormat | null;
  private readonly dayCache = new Map<number, number>();
  private readonly hourCache = new Map<number, number>();

  private constructor(name: string, format: Intl.DateTimeFormat | null) {
    this.name = name;
    this.format = format;
  }

  /** The zone named `name`, e.g. `America/New_York`; throws a `ScheduleError` on `field` for unknown names. */
  static of(name: string, field = 'timezone'): TimeZone {
    const cached = TimeZone.zones.get(name);
    if (cached) return cached;
    if (name.trim() === '') throw new ScheduleError(field, 'time zone is empty; use an IANA name such as UTC or Europe/London');
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new ScheduleError(field, `unknown time zone "${name}"; use an IANA name such as UTC, Europe/London or America/New_York`);
    }
    const canonical = format.resolvedOptions().timeZone;
    const isUtc = canonical === 'UTC' || canonical === 'Etc/UTC' || canonical === 'Etc/GMT';
    const zone = new TimeZone(name, isUtc ? null : format);
    TimeZone.zones.set(name, zone);
    return zone;
  }

  /** Offset of local time from UTC at `utcMs`, in milliseconds (local = utc + offset). */
  offsetMs(utcMs: number): number {
    if (this.format === null) return 0;
    const day = this.bucket(this.dayCache, Math.floor(utcMs / DAY_MS), DAY_MS);
    if (!Number.isNaN(day)) return day;
    const hour = this.bucket(this.hourCache, Math.floor(utcMs / HOUR_MS), HOUR_MS);
    return Number.isNaN(hour) ? this.computeOffset(utcMs) : hour;
  }

  /** The offset shared by the whole bucket, or MIXED when it contains a transition. */
  private bucket(cache: Map<number, number>, key: number, size: number): number {
    let cached = cache.get(key);
    if (cached === undefined) {
      const first = this.computeOffset(key * size);
      const last = this.computeOffset(key * size + size - 1000);
      cached = first === last ? first : MIXED;
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(key, cached);
    }
    return cached;
  }

  /** The wall-clock time at `utcMs` in this zone. */
  toLocal(utcMs: number): LocalDateTime {
    const d = new Date(utcMs + this.offsetMs(utcMs));
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }

  /**
   * The instant of a wall-clock time given as `localMs` (the local fields encoded as if they were UTC), with the
   * project's DST policy: a time in a gap does not exist (null); a repeated time resolves to its earlier instant.
   */
  resolve(localMs: number): number | null {
    if (this.format === null) return localMs;
    // Offsets sampled a day either side cover the one transition that can affect this local time.
    const before = this.offsetMs(localMs - DAY_MS);
    const after = this.offsetMs(localMs + DAY_MS);
    let best: number | null = null;
    for (const offset of before === after ? [before] : [before, after]) {
      const t = localMs - offset;
      if (this.offsetMs(t) === offset && (best === null || t < best)) best = t;
    }
    if (best === null && before === after) {
      // Two transitions within two days (historic zones only): fall back to a direct search.
      const t = localMs - this.offsetMs(localMs - this.offsetMs(localMs));
      if (t + this.offsetMs(t) === localMs) best = t;
    }
    return best;
  }

  /**
   * Like `resolve`, but a time in a gap moves forward by the gap's length (02:30 in a 02:00→03:00 gap is 03:30).
   * Used only by the ScheduleOffset creation rule (docs/schedule.md#window-parameters).
   */
  resolveShift(localMs: number): number {
    const exact = this.resolve(localMs);
    if (exact !== null) return exact;
    return localMs - this.offsetMs(localMs - DAY_MS);
  }

  /** "+05:45" style offset of this zone at `utcMs`. */
  offsetLabel(utcMs: number): string {
    const minutes = Math.round(this.offsetMs(utcMs) / 60_000);
    const sign = minutes < 0 ? '-' : '+';
    const abs = Math.abs(minutes);
    return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  }

  private computeOffset(utcMs: number): number {
    const whole = Math.floor(utcMs / 1000) * 1000;
    const fields: Record<string, number> = {};
    // `this.format` is non-null here: UTC returns before reaching this method.
    for (const part of (this.format as Intl.DateTimeFormat).formatToParts(whole)) {
      if (part.type !== 'literal') fields[part.type] = Number(part.value);
    }
    const asUtc = Date.UTC(
      fields['year'] ?? 1970,
      (fields['month'] ?? 1) - 1,
      fields['day'] ?? 1,
      fields['hour'] ?? 0,
      fields['minute'] ?? 0,
      fields['second'] ?? 0,
    );
    return asUtc - whole;
  }
}

/** The local fields encoded as a UTC epoch, the currency of wall-clock arithmetic. */
export function localMs(year: number, month: number, day: number, secondOfDay = 0): number {
  return Date.UTC(year, month - 1, day) + secondOfDay * 1000;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Day of week of a calendar date, AWS/Quartz numbering: 1 = Sunday ... 7 = Saturday. */
export function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}
