import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ScheduleError } from '../../src/domain/errors.js';
import { type CronExpression, parseCron, Schedule, TimeZone } from '../../src/schedule/index.js';

const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Sydney', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/St_Johns'] as const;
const MINUTE = 60_000;
const FROM = Date.parse('2025-01-01T00:00:00Z');
const TO = Date.parse('2029-01-01T00:00:00Z');

/** Random AWS cron expressions (6 fields, seconds 0), kept only when they parse (the 5-minute rule rejects some). */
const cronText = fc
  .record({
    minutes: fc.oneof(fc.integer({ min: 0, max: 59 }).map(String), fc.tuple(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 5, max: 40 })).map(([a, n]) => `${a}/${n}`), fc.constantFrom('0,30', '15,45', '0/15')),
    hours: fc.oneof(fc.constant('*'), fc.integer({ min: 0, max: 23 }).map(String), fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 12, max: 23 })).map(([a, b]) => `${a}-${b}`), fc.constantFrom('1,2,3', '0/6', '22-23', '1-3')),
    days: fc.oneof(
      fc.constantFrom('* ?', '? *', 'L ?', 'LW ?', 'L-2 ?', '15W ?', '1W ?', '31W ?', '? 6L', '? 1L', '? L', '? 2#5', '? 3#2', '? MON-FRI', '? SUN,SAT'),
      fc.integer({ min: 1, max: 31 }).map((d) => `${d} ?`),
      fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 })).map(([d, k]) => `? ${d}#${k}`),
    ),
    months: fc.constantFrom('*', '1-6', '2', 'MAR,OCT,NOV', '*/2', '3/4'),
    years: fc.constantFrom('*', '*', '2026-2027', '2025/2'),
  })
  .map((r) => {
    const [dom, dow] = r.days.split(' ');
    return `${r.minutes} ${r.hours} ${dom ?? '?'} ${r.months} ${dow ?? '?'} ${r.years}`;
  })
  .filter((body) => {
    try {
      parseCron(body);
      return true;
    } catch {
      return false;
    }
  });

const zone = fc.constantFrom(...ZONES);
const instant = fc.integer({ min: FROM, max: TO }).map((t) => Math.floor(t / 1000) * 1000);

function dim(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
function dowOf(y: number, m: number, d: number): number {
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;
}
function isWeekday(y: number, m: number, d: number): boolean {
  const w = dowOf(y, m, d);
  return w >= 2 && w <= 6;
}

/** An independent, naive reading of the day rules, written from docs/schedule.md (not from the engine's code). */
function dayMatches(e: CronExpression, y: number, m: number, d: number): boolean {
  const last = dim(y, m);
  switch (e.dom.kind) {
    case 'every':
      return true;
    case 'days':
      return e.dom.days.includes(d);
    case 'last':
      return d === last - e.dom.minus;
    case 'lastWeekday': {
      let x = last;
      while (!isWeekday(y, m, x)) x--;
      return d === x;
    }
    case 'nearestWeekday': {
      const n = e.dom.day;
      if (n > last) return false;
      // the weekday at the smallest distance from n within the month; ties cannot happen for a single day
      let best = -1;
      for (let x = 1; x <= last; x++) if (isWeekday(y, m, x) && (best < 0 || Math.abs(x - n) < Math.abs(best - n))) best = x;
      return d === best;
    }
    case 'any':
      break;
  }
  const w = dowOf(y, m, d);
  switch (e.dow.kind) {
    case 'every':
      return true;
    case 'weekdays':
      return e.dow.weekdays.includes(w);
    case 'lastOfMonth':
      return w === e.dow.weekday && d + 7 > last;
    case 'nth':
      return w === e.dow.weekday && Math.ceil(d / 7) === e.dow.nth;
    case 'any':
      return false;
  }
}

function localMatches(e: CronExpression, z: TimeZone, t: number): boolean {
  const l = z.toLocal(t);
  return (
    e.seconds.includes(l.second) &&
    e.minutes.includes(l.minute) &&
    e.hours.includes(l.hour) &&
    e.months.includes(l.month) &&
    (e.years === null || e.years.includes(l.year)) &&
    dayMatches(e, l.year, l.month, l.day)
  );
}

describe('schedule properties', () => {
  it('occurrences strictly increase and are strictly after the instant asked about', () => {
    fc.assert(
      fc.property(cronText, zone, instant, (body, tz, after) => {
        const occ = Schedule.parse(`cron(${body})`, { timezone: tz }).next(after, 12);
        let previous = after;
        for (const o of occ) {
          assert.ok(o.start > previous, `${o.start} after ${previous}`);
          previous = o.start;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("each occurrence's local time matches the expression (independent day-rule reading)", () => {
    fc.assert(
      fc.property(cronText, zone, instant, (body, tz, after) => {
        const expr = parseCron(body);
        const z = TimeZone.of(tz);
        for (const o of Schedule.parse(`cron(${body})`, { timezone: tz }).next(after, 8)) {
          assert.ok(localMatches(expr, z, o.start), `${new Date(o.start).toISOString()} in ${tz} does not match ${body}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('nothing is missed: equals a minute-by-minute scan keeping the first instant of each local time', () => {
    fc.assert(
      fc.property(cronText, zone, instant, (body, tz, start) => {
        const expr = parseCron(body);
        const z = TimeZone.of(tz);
        const end = start + 3 * 86_400_000;
        const seenLocal = new Set<number>();
        const expected: number[] = [];
        for (let t = Math.ceil((start + 1) / MINUTE) * MINUTE; t <= end; t += MINUTE) {
          const localKey = t + z.offsetMs(t);
          if (seenLocal.has(localKey)) continue; // the second pass through a repeated hour
          seenLocal.add(localKey);
          if (localMatches(expr, z, t)) expected.push(t);
        }
        const got = Schedule.parse(`cron(${body})`, { timezone: tz })
          .between(start, end)
          .map((o) => o.start);
        assert.deepEqual(got, expected);
      }),
      { numRuns: 60 },
    );
  });

  it('listing from any later instant continues the same series', () => {
    fc.assert(
      fc.property(cronText, zone, instant, fc.integer({ min: 1, max: 40 * 86_400_000 }), (body, tz, a, delta) => {
        const s = Schedule.parse(`cron(${body})`, { timezone: tz });
        const b = a + delta;
        const fromA = s.next(a, 50).map((o) => o.start).filter((t) => t > b);
        const fromB = s.next(b, fromA.length).map((o) => o.start);
        assert.deepEqual(fromB.slice(0, fromA.length), fromA);
      }),
      { numRuns: 200 },
    );
  });

  it('windowAt agrees with a brute-force scan over next', () => {
    fc.assert(
      fc.property(cronText, zone, instant, fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 120 }), (body, tz, at, hours, aheadMin) => {
        const s = Schedule.parse(`cron(${body})`, { timezone: tz, durationHours: hours });
        const ahead = aheadMin * MINUTE;
        const duration = hours * 3_600_000;
        const candidates = s.next(at - duration - ahead - 86_400_000, 2000).filter((o) => o.start - ahead <= at && at < o.start + duration);
        const got = s.windowAt(at, ahead);
        assert.equal(got?.start ?? null, candidates[0]?.start ?? null);
      }),
      { numRuns: 150 },
    );
  });

  it("windowAt asked again and again, at later and earlier instants (its memo of the last scan), answers as a fresh schedule's", () => {
    // Instants at and around the edges that matter (a window's start less start-ahead, its start, its end), in
    // mostly rising order as a controller asks, sometimes back, sometimes the same instant twice.
    const edge = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(0, 1, 2), fc.constantFrom(-1000, 0, 1000), fc.integer({ min: 0, max: 9 }));
    // Every kind of schedule a window has: cron, bounded by start and end dates, offset by days, rate, disabled.
    const variant = fc.constantFrom('cron', 'bounded', 'offset', 'rate', 'disabled');
    fc.assert(
      fc.property(cronText, zone, variant, fc.integer({ min: 1, max: 5 }), fc.array(edge, { minLength: 5, maxLength: 40 }), instant, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 60 }), (body, tz, kind, k, edges, start, hours, aheadMin) => {
        const text = kind === 'rate' ? `rate(${hours + k} hours)` : `cron(${body})`;
        const options = {
          timezone: tz,
          durationHours: hours,
          ...(kind === 'bounded' || kind === 'rate' ? { startDate: start - k * 86_400_000, endDate: start + k * 43_200_000 } : {}),
          ...(kind === 'offset' ? { offsetDays: k } : {}),
          ...(kind === 'disabled' ? { enabled: false } : {}),
        };
        const fresh = (): Schedule => Schedule.parse(text, options);
        const s = fresh();
        const ahead = aheadMin * MINUTE;
        const occurrences = fresh().next(start - 3 * 86_400_000, 8);
        let previous = start;
        for (const [i, which, delta, order] of edges) {
          const o = occurrences[Math.min(i, occurrences.length - 1)];
          const base = o === undefined ? start + i * 3_600_000 : [o.start - ahead, o.start, o.start + hours * 3_600_000][which] ?? o.start;
          // order 0: back before the last instant asked; 1: the same again; otherwise the edge itself.
          const at = order === 0 ? previous - 1000 : order === 1 ? previous : base + delta;
          previous = at;
          assert.deepEqual(s.windowAt(at, ahead), fresh().windowAt(at, ahead), `${kind}: at ${new Date(at).toISOString()}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rate occurrences are anchor + k·interval and never before the anchor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: 600 }), instant, instant, (minutes, anchor, after) => {
        const occ = Schedule.parse(`rate(${minutes} minutes)`, { startDate: anchor }).next(after, 5);
        for (const o of occ) {
          assert.ok(o.start >= anchor && o.start > after);
          assert.equal((o.start - anchor) % (minutes * MINUTE), 0);
        }
        assert.ok((occ[0]?.start ?? 0) - Math.max(after, anchor - 1) <= minutes * MINUTE);
      }),
      { numRuns: 200 },
    );
  });
});

describe('malformed input never crashes or hangs', () => {
  const fragments = ['*', '?', 'L', 'W', '#', '-', '/', ',', 'LW', '0', '5', '59', '60', '99999999999', '-1', 'MON', 'FEB', 'mon', 'L-', '3#', '#3', '7L', '', ' ', 'x', '1-', '-5', '1//2', '1,,2', '\u00e9', '0x10', '1e3'];
  const field = fc.array(fc.constantFrom(...fragments), { minLength: 0, maxLength: 4 }).map((parts) => parts.join(''));

  it('random cron fields: a schedule or a ScheduleError, and evaluation completes', () => {
    fc.assert(
      fc.property(fc.array(field, { minLength: 0, maxLength: 8 }), instant, (fields, after) => {
        const text = `cron(${fields.join(' ')})`;
        try {
          const s = Schedule.parse(text, { durationHours: 2 });
          s.next(after, 3);
          s.windowAt(after, 15 * MINUTE);
        } catch (err) {
          assert.ok(err instanceof ScheduleError, `${text}: ${String(err)}`);
          assert.ok(err.field.length > 0 && err.reason.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random strings as whole expressions', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string().map((s) => `cron(${s})`), fc.string().map((s) => `rate(${s})`), fc.string().map((s) => `at(${s})`)), (text) => {
        try {
          Schedule.parse(text, { startDate: FROM }).next(FROM, 2);
        } catch (err) {
          assert.ok(err instanceof ScheduleError, `${JSON.stringify(text)}: ${String(err)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
