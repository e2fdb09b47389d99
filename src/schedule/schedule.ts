import { ScheduleError } from '../domain/errors.js';
import { type CronExpression, matchingDays, YEAR_MAX } from './cron.js';
import { parseExpression, type ScheduleExpression } from './expression.js';
import { TimeZone } from './tz.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The parameters of a maintenance window (or any schedule) besides its expression; instants are epoch ms. */
export interface WindowOptions {
  /** IANA zone the expression is read in [UTC]. */
  readonly timezone?: string | undefined;
  /** ScheduleOffset: wall-clock days after each cron match, 1-6 (cron only). */
  readonly offsetDays?: number | undefined;
  /** Duration in whole hours, 1-24. */
  readonly durationHours?: number | undefined;
  /** Cutoff in whole hours, 0 to Duration − 1: no task starts after end − cutoff. */
  readonly cutoffHours?: number | undefined;
  readonly startDate?: number | undefined;
  readonly endDate?: number | undefined;
  /** When the window was created: the ScheduleOffset creation rule and the rate anchor. */
  readonly createdAt?: number | undefined;
  readonly enabled?: boolean | undefined;
  /** Upper bound of durationHours [24, the SSM limit]; configuration schedules allow up to a week. */
  readonly maxDurationHours?: number | undefined;
}

/** One execution of a window. `end`/`lastTaskStart` exist when the window has a duration. */
export interface Occurrence {
  readonly start: number;
  readonly end?: number;
  readonly lastTaskStart?: number;
}

/** A window that has a duration: every occurrence has an end. */
export interface Window {
  readonly start: number;
  readonly end: number;
  readonly lastTaskStart: number;
}

function wholeNumber(field: string, value: number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ScheduleError(field, `must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function instant(field: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value)) throw new ScheduleError(field, 'is not a valid date and time');
  return value;
}

/**
 * A compiled schedule: expression + zone + window parameters, validated once. All methods are pure functions of
 * the instant they are given; nothing here reads the clock.
 */
export class Schedule {
  readonly expression: ScheduleExpression;
  readonly zone: TimeZone;
  readonly offsetDays: number;
  readonly durationMs: number | undefined;
  readonly cutoffMs: number;
  readonly startDate: number | undefined;
  readonly endDate: number | undefined;
  readonly createdAt: number | undefined;
  readonly enabled: boolean;
  private readonly rateAnchor: number | undefined;

  private constructor(expression: ScheduleExpression, options: WindowOptions) {
    this.expression = expression;
    this.zone = TimeZone.of(options.timezone ?? 'UTC', 'timezone');
    const offset = wholeNumber('offsetDays', options.offsetDays, 0, 6) ?? 0;
    if (offset > 0 && expression.kind !== 'cron') throw new ScheduleError('offsetDays', `ScheduleOffset applies to cron expressions only, not ${expression.kind}(...)`);
    this.offsetDays = offset;
    const duration = wholeNumber('durationHours', options.durationHours, 1, options.maxDurationHours ?? 24);
    const cutoff = wholeNumber('cutoffHours', options.cutoffHours, 0, (options.maxDurationHours ?? 24) - 1);
    if (cutoff !== undefined && cutoff > 0 && duration === undefined) throw new ScheduleError('cutoffHours', 'a cutoff needs a duration');
    if (cutoff !== undefined && duration !== undefined && cutoff > duration - 1) {
      throw new ScheduleError('cutoffHours', `must be at most duration − 1 (${duration - 1}), got ${cutoff}`);
    }
    this.durationMs = duration === undefined ? undefined : duration * HOUR_MS;
    this.cutoffMs = (cutoff ?? 0) * HOUR_MS;
    this.startDate = instant('startDate', options.startDate);
    this.endDate = instant('endDate', options.endDate);
    this.createdAt = instant('createdAt', options.createdAt);
    if (this.startDate !== undefined && this.endDate !== undefined && this.endDate < this.startDate) {
      throw new ScheduleError('endDate', 'is before startDate');
    }
    this.enabled = options.enabled ?? true;
    if (expression.kind === 'rate') {
      // "if you provide a start date that occurs in the past, the current date and time are used": anchor = max.
      const candidates = [this.startDate, this.createdAt].filter((v): v is number => v !== undefined);
      if (candidates.length === 0) {
        throw new ScheduleError('startDate', 'rate(...) schedules run from an anchor: give a start date or the creation time');
      }
      this.rateAnchor = Math.max(...candidates);
    }
  }

  /** Parses and validates; throws `ScheduleError` naming the field (a cron field, or an option name). */
  static parse(expression: string, options: WindowOptions = {}): Schedule {
    return new Schedule(parseExpression(expression), options);
  }

  get hasDuration(): boolean {
    return this.durationMs !== undefined;
  }

  /** The first `count` occurrences strictly after `after`. */
  next(after: number, count = 1): Occurrence[] {
    const out: Occurrence[] = [];
    if (count <= 0) return out;
    this.scan(after, (t) => {
      out.push(this.occurrence(t));
      return out.length < count;
    });
    return out;
  }

  /** Occurrences whose start is in (from, to], in order; at most `limit` of them. */
  between(from: number, to: number, limit = 100_000): Occurrence[] {
    const out: Occurrence[] = [];
    this.scan(from, (t) => {
      if (t > to) return false;
      out.push(this.occurrence(t));
      return out.length < limit;
    });
    return out;
  }

  /**
   * The window containing `at`, counting `startAheadMs` before each start as part of it: the earliest occurrence
   * with start − ahead ≤ at < end. A window that began an hour ago is still found.
   */
  windowAt(at: number, startAheadMs = 0): Window | null {
    const duration = this.requireDuration();
    const from = at - duration;
    // The first occurrence after `from` is also the first after any later instant before it: a controller asks at
    // ever later instants, so one scan serves every tick until the window found has ended (exact, not an estimate).
    const memo = this.firstAfter;
    let start: number | undefined;
    if (memo !== undefined && memo.from <= from && (memo.start === undefined || from < memo.start)) start = memo.start;
    else {
      start = this.next(from, 1)[0]?.start;
      this.firstAfter = { from, start };
    }
    if (start === undefined || start - startAheadMs > at) return null;
    return this.window(start);
  }

  /** windowAt's last scan: the first occurrence strictly after `from` starts at `start` (undefined: there is none). */
  private firstAfter: { readonly from: number; readonly start: number | undefined } | undefined;

  /** The first `count` windows that end after `after` (the one in progress at `after` first, if any). */
  windowsFrom(after: number, count: number): Window[] {
    const duration = this.requireDuration();
    return this.next(after - duration, count).map((o) => this.window(o.start));
  }

  /** Window for an occurrence starting at `start`. */
  window(start: number): Window {
    const end = start + this.requireDuration();
    return { start, end, lastTaskStart: end - this.cutoffMs };
  }

  private requireDuration(): number {
    if (this.durationMs === undefined) throw new ScheduleError('durationHours', 'a duration is needed to tell when a window ends');
    return this.durationMs;
  }

  private occurrence(start: number): Occurrence {
    if (this.durationMs === undefined) return { start };
    return this.window(start);
  }

  /** Calls `visit` with each occurrence start strictly after `after`, ascending, until it returns false. */
  private scan(after: number, visit: (start: number) => boolean): void {
    if (!this.enabled) return;
    const expr = this.expression;
    switch (expr.kind) {
      case 'cron':
        this.scanCron(expr, after, visit);
        return;
      case 'rate': {
        const anchor = this.rateAnchor ?? 0;
        let k = after < anchor ? 0 : Math.floor((after - anchor) / expr.intervalMs) + 1;
        for (;;) {
          const t = anchor + k * expr.intervalMs;
          if (t <= after) {
            k++;
            continue;
          }
          if (this.endDate !== undefined && t > this.endDate) return;
          if (!visit(t)) return;
          k++;
        }
      }
      case 'at': {
        const t = this.zone.resolve(expr.localMs);
        if (t === null || t <= after) return;
        if (this.startDate !== undefined && t < this.startDate) return;
        if (this.endDate !== undefined && t > this.endDate) return;
        visit(t);
        return;
      }
    }
  }

  private scanCron(expr: CronExpression, after: number, visit: (start: number) => boolean): void {
    const zone = this.zone;
    const offsetMs = this.offsetDays * DAY_MS;
    const { startDate, endDate, createdAt } = this;
    // Every match must satisfy t > after, t ≥ startDate and base > createdAt: search from the latest of them,
    // less the offset and a day of slack for DST.
    const floor = Math.max(after, startDate ?? -Infinity, createdAt ?? -Infinity);
    const from = zone.toLocal(Number.isFinite(floor) ? floor : after);
    const firstLocalDay = Date.UTC(from.year, from.month - 1, from.day) - offsetMs - DAY_MS;
    // Candidates more than 6 h of wall clock before `after` cannot be after it: no zone has moved its clock back
    // by more than that since 1970 (Antarctica/Troll's 2 h is the largest), so they are skipped unresolved.
    const skipBelow = after + zone.offsetMs(after) - 6 * HOUR_MS;
    const start = new Date(firstLocalDay);
    const startYear = start.getUTCFullYear();
    const startMonth = start.getUTCMonth() + 1;
    const startDay = start.getUTCDate();
    const years = expr.years ?? null;
    const times = expr.timesOfDay;

    for (let year = startYear; year <= YEAR_MAX; year++) {
      if (years !== null && !years.includes(year)) {
        if (year > (years.at(-1) ?? 0)) return;
        continue;
      }
      for (const month of expr.months) {
        if (year === startYear && month < startMonth) continue;
        for (const day of matchingDays(expr, year, month)) {
          if (year === startYear && month === startMonth && day < startDay) continue;
          const dayLocal = Date.UTC(year, month - 1, day);
          for (const second of times) {
            const baseLocal = dayLocal + second * 1000;
            const finalLocal = baseLocal + offsetMs;
            if (finalLocal < skipBelow) continue;
            if (createdAt !== undefined && zone.resolveShift(baseLocal) <= createdAt) continue;
            const t = zone.resolve(finalLocal);
            if (t === null) continue; // in a DST gap: skipped
            if (endDate !== undefined && t > endDate) return;
            if (t <= after || (startDate !== undefined && t < startDate)) continue;
            if (!visit(t)) return;
          }
        }
      }
    }
  }
}
