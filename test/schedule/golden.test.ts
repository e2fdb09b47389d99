/**
 * Golden table, built by hand from the rules in docs/schedule.md. Each expected instant was worked out
 * from the calendar and the zone's transition instants (tzdata 2025b), not produced by this engine.
 *
 * Calendar facts used: 2026-01-01 is a Thursday; 2026-03-01 a Sunday; 2026-08-01 a Saturday; 2026-11-01 a Sunday.
 * New York: EST→EDT 2026-03-08 07:00Z, EDT→EST 2026-11-01 06:00Z. London: 2026-03-29 01:00Z, 2026-10-25 01:00Z.
 * Sydney: AEDT→AEST 2026-04-04 16:00Z, AEST→AEDT 2026-10-03 16:00Z.
 * Lord Howe (30-minute shifts): +11→+10:30 2026-04-04 15:00Z, +10:30→+11 2026-10-03 15:30Z.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Schedule, type WindowOptions } from '../../src/schedule/index.js';

interface Row {
  readonly name: string;
  readonly expr: string;
  readonly opts?: Omit<WindowOptions, 'startDate' | 'endDate' | 'createdAt'> & { startDate?: string; endDate?: string; createdAt?: string };
  readonly after: string;
  readonly count?: number;
  readonly expect: readonly string[];
}

const T = (iso: string): number => Date.parse(iso);

function compile(row: Row): Schedule {
  const { startDate, endDate, createdAt, ...rest } = row.opts ?? {};
  return Schedule.parse(row.expr, {
    ...rest,
    startDate: startDate === undefined ? undefined : T(startDate),
    endDate: endDate === undefined ? undefined : T(endDate),
    createdAt: createdAt === undefined ? undefined : T(createdAt),
  });
}

const NY = { timezone: 'America/New_York' } as const;
const LON = { timezone: 'Europe/London' } as const;
const SYD = { timezone: 'Australia/Sydney' } as const;
const LHI = { timezone: 'Australia/Lord_Howe' } as const;

const SYNTAX: readonly Row[] = [
  { name: 'daily at a fixed time', expr: 'cron(0 10 * * ? *)', after: '2026-01-01T00:00:00Z', expect: ['2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z', '2026-01-03T10:00:00Z'] },
  { name: '7-field form with leading seconds (AWS doc: 09:30:24 every day)', expr: 'cron(24 30 09 ? * * *)', after: '2026-01-01T09:30:24Z', count: 2, expect: ['2026-01-02T09:30:24Z', '2026-01-03T09:30:24Z'] },
  { name: 'weekday names in a list', expr: 'cron(0 8 ? * MON,WED,FRI *)', after: '2026-01-01T00:00:00Z', expect: ['2026-01-02T08:00:00Z', '2026-01-05T08:00:00Z', '2026-01-07T08:00:00Z'] },
  { name: 'lower-case weekday range', expr: 'cron(0 8 ? * mon-fri *)', after: '2026-01-02T09:00:00Z', count: 2, expect: ['2026-01-05T08:00:00Z', '2026-01-06T08:00:00Z'] },
  { name: 'numeric weekdays: 1 = SUN, 7 = SAT', expr: 'cron(0 8 ? * 1,7 *)', after: '2026-01-01T00:00:00Z', expect: ['2026-01-03T08:00:00Z', '2026-01-04T08:00:00Z', '2026-01-10T08:00:00Z'] },
  { name: 'hour range on a day of month', expr: 'cron(0 9-11 1 * ? *)', after: '2026-01-01T00:00:00Z', count: 4, expect: ['2026-01-01T09:00:00Z', '2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z', '2026-02-01T09:00:00Z'] },
  { name: 'minute step a/n (doc: 1/10 = 1, 11, 21 ...)', expr: 'cron(1/10 * * * ? *)', after: '2026-01-01T00:00:00Z', expect: ['2026-01-01T00:01:00Z', '2026-01-01T00:11:00Z', '2026-01-01T00:21:00Z'] },
  { name: 'month step does not wrap (7/6 = July only)', expr: 'cron(0 0 1 7/6 ? *)', after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-07-01T00:00:00Z', '2027-07-01T00:00:00Z'] },
  { name: 'day-of-month */10 = 1, 11, 21, 31', expr: 'cron(0 0 */10 * ? *)', after: '2026-01-25T00:00:00Z', expect: ['2026-01-31T00:00:00Z', '2026-02-01T00:00:00Z', '2026-02-11T00:00:00Z'] },
  { name: 'range with a step (10-20/5)', expr: 'cron(0 10-20/5 1 1 ? *)', after: '2026-01-01T00:00:00Z', count: 4, expect: ['2026-01-01T10:00:00Z', '2026-01-01T15:00:00Z', '2026-01-01T20:00:00Z', '2027-01-01T10:00:00Z'] },
  { name: 'month names', expr: 'cron(0 0 1 JAN,JUL ? *)', after: '2026-01-01T00:00:00Z', expect: ['2026-07-01T00:00:00Z', '2027-01-01T00:00:00Z', '2027-07-01T00:00:00Z'] },
  { name: 'L = last day of the month', expr: 'cron(0 12 L * ? *)', after: '2026-01-31T13:00:00Z', expect: ['2026-02-28T12:00:00Z', '2026-03-31T12:00:00Z', '2026-04-30T12:00:00Z'] },
  { name: 'L in a leap February', expr: 'cron(0 12 L 2 ? *)', after: '2027-03-01T00:00:00Z', count: 2, expect: ['2028-02-29T12:00:00Z', '2029-02-28T12:00:00Z'] },
  { name: 'L-3 = three days before the last day', expr: 'cron(0 0 L-3 * ? *)', after: '2026-02-01T00:00:00Z', count: 2, expect: ['2026-02-25T00:00:00Z', '2026-03-28T00:00:00Z'] },
  { name: 'LW = last weekday (Jan 31 Sat → 30; May 31 Sun → 29)', expr: 'cron(0 0 LW * ? *)', after: '2026-01-01T00:00:00Z', count: 5, expect: ['2026-01-30T00:00:00Z', '2026-02-27T00:00:00Z', '2026-03-31T00:00:00Z', '2026-04-30T00:00:00Z', '2026-05-29T00:00:00Z'] },
  { name: '15W: Saturday 15th → Friday 14th; Sunday 15th → Monday 16th', expr: 'cron(0 0 15W 8 ? *)', after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-08-14T00:00:00Z', '2027-08-16T00:00:00Z'] },
  { name: '1W on a Saturday 1st → Monday 3rd (never leaves the month)', expr: 'cron(0 0 1W 8 ? *)', after: '2026-01-01T00:00:00Z', count: 1, expect: ['2026-08-03T00:00:00Z'] },
  { name: '31W: Sunday 31st → Friday 29th; months without a 31st are skipped', expr: 'cron(0 0 31W * ? *)', after: '2026-05-01T00:00:00Z', count: 3, expect: ['2026-05-29T00:00:00Z', '2026-07-31T00:00:00Z', '2026-08-31T00:00:00Z'] },
  { name: '6L = last Friday', expr: 'cron(0 0 ? * 6L *)', after: '2026-01-01T00:00:00Z', expect: ['2026-01-30T00:00:00Z', '2026-02-27T00:00:00Z', '2026-03-27T00:00:00Z'] },
  { name: '3L = last Tuesday', expr: 'cron(0 0 ? * 3L *)', after: '2026-01-01T00:00:00Z', count: 1, expect: ['2026-01-27T00:00:00Z'] },
  { name: '3#2 = second Tuesday', expr: 'cron(0 0 ? * 3#2 *)', after: '2026-01-01T00:00:00Z', count: 1, expect: ['2026-01-13T00:00:00Z'] },
  { name: '5#3 = third Thursday (the AWS doc says Friday; it is wrong)', expr: 'cron(0 0 ? * 5#3 *)', after: '2026-01-01T00:00:00Z', count: 1, expect: ['2026-01-15T00:00:00Z'] },
  { name: '2#5 = fifth Monday; months without one are skipped', expr: 'cron(0 0 ? * 2#5 *)', after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-03-30T00:00:00Z', '2026-06-29T00:00:00Z'] },
  { name: 'TUE#3 by name', expr: 'cron(0 30 23 ? * TUE#3 *)', after: '2026-11-01T00:00:00Z', count: 2, expect: ['2026-11-17T23:30:00Z', '2026-12-15T23:30:00Z'] },
  { name: 'L alone in day-of-week = Saturday', expr: 'cron(0 0 ? * L *)', after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-01-03T00:00:00Z', '2026-01-10T00:00:00Z'] },
  { name: 'year range ends the schedule', expr: 'cron(0 0 1 1 ? 2027-2028)', after: '2026-01-01T00:00:00Z', expect: ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'] },
  { name: 'year step', expr: 'cron(0 0 1 1 ? 2030/10)', after: '2026-01-01T00:00:00Z', expect: ['2030-01-01T00:00:00Z', '2040-01-01T00:00:00Z', '2050-01-01T00:00:00Z'] },
  { name: 'a date that never exists yields nothing (Feb 30)', expr: 'cron(0 0 30 2 ? *)', after: '2026-01-01T00:00:00Z', expect: [] },
];

const DST: readonly Row[] = [
  { name: 'New York: 02:30 in the spring gap is skipped', expr: 'cron(30 2 * * ? *)', opts: NY, after: '2026-03-06T12:00:00Z', expect: ['2026-03-07T07:30:00Z', '2026-03-09T06:30:00Z', '2026-03-10T06:30:00Z'] },
  { name: 'New York: repeated 01:30 runs once, at the earlier (EDT) instant', expr: 'cron(30 1 * * ? *)', opts: NY, after: '2026-10-30T12:00:00Z', expect: ['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'] },
  { name: 'New York: 0/30 leaves a 90-minute hole on the fall-back day', expr: 'cron(0/30 * * * ? *)', opts: NY, after: '2026-11-01T04:50:00Z', count: 4, expect: ['2026-11-01T05:00:00Z', '2026-11-01T05:30:00Z', '2026-11-01T07:00:00Z', '2026-11-01T07:30:00Z'] },
  { name: 'New York: wildcard hours continue at 03:00 after the gap', expr: 'cron(0/30 * * * ? *)', opts: NY, after: '2026-03-08T06:15:00Z', expect: ['2026-03-08T06:30:00Z', '2026-03-08T07:00:00Z', '2026-03-08T07:30:00Z'] },
  { name: 'London: 02:30 is unaffected in spring (the gap is at 01:xx)', expr: 'cron(30 2 * * ? *)', opts: LON, after: '2026-03-28T12:00:00Z', count: 2, expect: ['2026-03-29T01:30:00Z', '2026-03-30T01:30:00Z'] },
  { name: 'London: 02:30 is unaffected in autumn', expr: 'cron(30 2 * * ? *)', opts: LON, after: '2026-10-24T12:00:00Z', count: 2, expect: ['2026-10-25T02:30:00Z', '2026-10-26T02:30:00Z'] },
  { name: 'London: 01:30 in the spring gap is skipped', expr: 'cron(30 1 * * ? *)', opts: LON, after: '2026-03-28T12:00:00Z', count: 2, expect: ['2026-03-30T00:30:00Z', '2026-03-31T00:30:00Z'] },
  { name: 'London: repeated 01:30 runs once, at the BST instant (not the next day, as croniter has it)', expr: 'cron(30 1 * * ? *)', opts: LON, after: '2026-10-24T12:00:00Z', count: 2, expect: ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'] },
  { name: 'Sydney: 02:30 in the October gap is skipped', expr: 'cron(30 2 * * ? *)', opts: SYD, after: '2026-10-02T12:00:00Z', count: 2, expect: ['2026-10-02T16:30:00Z', '2026-10-04T15:30:00Z'] },
  { name: 'Sydney: repeated 02:30 in April runs once, at the AEDT instant', expr: 'cron(30 2 * * ? *)', opts: SYD, after: '2026-04-03T12:00:00Z', expect: ['2026-04-03T15:30:00Z', '2026-04-04T15:30:00Z', '2026-04-05T16:30:00Z'] },
  { name: 'Lord Howe: 02:15 in the 30-minute gap is skipped', expr: 'cron(15 2 * * ? *)', opts: LHI, after: '2026-10-02T12:00:00Z', count: 2, expect: ['2026-10-02T15:45:00Z', '2026-10-04T15:15:00Z'] },
  { name: 'Lord Howe: 02:30 right after the gap exists', expr: 'cron(30 2 * * ? *)', opts: LHI, after: '2026-10-03T12:00:00Z', count: 1, expect: ['2026-10-03T15:30:00Z'] },
  { name: 'Lord Howe: repeated 01:45 runs once, at the +11:00 instant', expr: 'cron(45 1 * * ? *)', opts: LHI, after: '2026-04-03T12:00:00Z', expect: ['2026-04-03T14:45:00Z', '2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z'] },
];

const OFFSETS: readonly Row[] = [
  { name: 'offset crosses a month end (L + 2 days)', expr: 'cron(0 22 L * ? *)', opts: { offsetDays: 2 }, after: '2026-01-15T00:00:00Z', expect: ['2026-02-02T22:00:00Z', '2026-03-02T22:00:00Z', '2026-04-02T22:00:00Z'] },
  { name: 'doc example: third Tuesday 23:30 + 2 days, New York', expr: 'cron(0 30 23 ? * TUE#3 *)', opts: { ...NY, offsetDays: 2 }, after: '2026-11-01T00:00:00Z', count: 2, expect: ['2026-11-20T04:30:00Z', '2026-12-18T04:30:00Z'] },
  { name: 'offset counts wall-clock days across DST (09:00 stays 09:00)', expr: 'cron(0 9 ? * FRI#1 *)', opts: { ...NY, offsetDays: 3 }, after: '2026-03-01T00:00:00Z', count: 1, expect: ['2026-03-09T13:00:00Z'] },
  { name: 'offset landing in a DST gap is skipped', expr: 'cron(30 2 ? * FRI#1 *)', opts: { ...NY, offsetDays: 2 }, after: '2026-03-01T00:00:00Z', count: 1, expect: ['2026-04-05T06:30:00Z'] },
  { name: 'offset run still pending for an existing window', expr: 'cron(0 30 23 ? * TUE#3 *)', opts: { offsetDays: 2 }, after: '2026-11-18T00:00:00Z', count: 1, expect: ['2026-11-19T23:30:00Z'] },
  { name: 'creation rule: base time before creation drops that period', expr: 'cron(0 30 23 ? * TUE#3 *)', opts: { offsetDays: 2, createdAt: '2026-11-18T00:00:00Z' }, after: '2026-11-18T00:00:00Z', count: 1, expect: ['2026-12-17T23:30:00Z'] },
];

const RATE_AT_DATES: readonly Row[] = [
  { name: 'rate: first run at the start date (k = 0)', expr: 'rate(7 days)', opts: { startDate: '2026-01-06T00:00:00Z' }, after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-01-06T00:00:00Z', '2026-01-13T00:00:00Z'] },
  { name: 'rate: anchor is the later of start date and creation', expr: 'rate(1 hour)', opts: { startDate: '2026-01-01T00:00:00Z', createdAt: '2026-01-01T00:20:00Z' }, after: '2026-01-01T00:00:00Z', count: 2, expect: ['2026-01-01T00:20:00Z', '2026-01-01T01:20:00Z'] },
  { name: 'rate: strictly after an occurrence', expr: 'rate(30 minutes)', opts: { startDate: '2026-01-01T00:00:00Z' }, after: '2026-01-01T01:00:00Z', count: 2, expect: ['2026-01-01T01:30:00Z', '2026-01-01T02:00:00Z'] },
  { name: 'rate: days are 24 elapsed hours, even across DST', expr: 'rate(1 day)', opts: { ...NY, startDate: '2026-03-07T12:00:00Z' }, after: '2026-03-07T12:00:00Z', count: 2, expect: ['2026-03-08T12:00:00Z', '2026-03-09T12:00:00Z'] },
  { name: 'rate: end date is inclusive and ends the series', expr: 'rate(2 hours)', opts: { startDate: '2026-01-01T00:00:00Z', endDate: '2026-01-01T04:00:00Z' }, after: '2025-12-31T00:00:00Z', expect: ['2026-01-01T00:00:00Z', '2026-01-01T02:00:00Z', '2026-01-01T04:00:00Z'] },
  { name: 'at: read in the window time zone', expr: 'at(2026-07-07T13:15:30)', opts: { timezone: 'America/Los_Angeles' }, after: '2026-01-01T00:00:00Z', expect: ['2026-07-07T20:15:30Z'] },
  { name: 'at: UTC when no zone is set', expr: 'at(2026-07-07T13:15:30)', after: '2026-01-01T00:00:00Z', expect: ['2026-07-07T13:15:30Z'] },
  { name: 'at: runs once; nothing after it', expr: 'at(2026-07-07T13:15:30)', after: '2026-07-07T13:15:30Z', expect: [] },
  { name: 'at: a time in a DST gap never runs', expr: 'at(2026-03-08T02:30:00)', opts: NY, after: '2026-01-01T00:00:00Z', expect: [] },
  { name: 'at: a repeated time runs at the earlier instant', expr: 'at(2026-11-01T01:30:00)', opts: NY, after: '2026-01-01T00:00:00Z', expect: ['2026-11-01T05:30:00Z'] },
  { name: 'start and end dates are inclusive', expr: 'cron(0 10 * * ? *)', opts: { startDate: '2026-01-05T10:00:00Z', endDate: '2026-01-07T10:00:00Z' }, after: '2026-01-01T00:00:00Z', count: 5, expect: ['2026-01-05T10:00:00Z', '2026-01-06T10:00:00Z', '2026-01-07T10:00:00Z'] },
  { name: 'a start date one second late skips that day', expr: 'cron(0 10 * * ? *)', opts: { startDate: '2026-01-05T10:00:01Z' }, after: '2026-01-01T00:00:00Z', count: 1, expect: ['2026-01-06T10:00:00Z'] },
  { name: 'a start date far ahead is reached without walking every day', expr: 'cron(0/5 * * * ? *)', opts: { startDate: '2190-06-01T00:00:00Z' }, after: '1970-01-01T00:00:00Z', count: 1, expect: ['2190-06-01T00:00:00Z'] },
  { name: 'a disabled window never runs', expr: 'cron(0 10 * * ? *)', opts: { enabled: false }, after: '2026-01-01T00:00:00Z', expect: [] },
];

function runRows(rows: readonly Row[]): void {
  for (const row of rows) {
    it(row.name, () => {
      const got = compile(row).next(T(row.after), row.count ?? 3).map((o) => new Date(o.start).toISOString().replace('.000Z', 'Z'));
      assert.deepEqual(got, row.expect);
    });
  }
}

describe('golden: syntax', () => runRows(SYNTAX));
describe('golden: daylight-saving time', () => runRows(DST));
describe('golden: ScheduleOffset', () => runRows(OFFSETS));
describe('golden: rate, at, start/end dates, enabled', () => runRows(RATE_AT_DATES));

describe('golden: windows and activity', () => {
  const london9 = Schedule.parse('cron(0 9 ? * * *)', { ...LON, durationHours: 3, cutoffHours: 1 });

  it('a window that began earlier is still active (09:00 BST = 08:00Z, 3 h)', () => {
    assert.deepEqual(london9.windowAt(T('2026-06-01T10:30:00Z')), { start: T('2026-06-01T08:00:00Z'), end: T('2026-06-01T11:00:00Z'), lastTaskStart: T('2026-06-01T10:00:00Z') });
  });
  it('the end is exclusive', () => {
    assert.equal(london9.windowAt(T('2026-06-01T11:00:00Z')), null);
  });
  it('start-ahead makes it active 15 minutes early, not 16', () => {
    assert.equal(london9.windowAt(T('2026-06-01T07:44:59Z'), 15 * 60_000), null);
    assert.equal(london9.windowAt(T('2026-06-01T07:45:00Z'), 15 * 60_000)?.start, T('2026-06-01T08:00:00Z'));
  });
  it('a 24-hour window that started yesterday is active today', () => {
    const weekly = Schedule.parse('cron(0 12 ? * MON *)', { durationHours: 24 });
    assert.equal(weekly.windowAt(T('2026-01-06T11:59:00Z'))?.start, T('2026-01-05T12:00:00Z'));
    assert.equal(weekly.windowAt(T('2026-01-06T12:00:00Z')), null);
  });
  it('duration is elapsed hours: 4 h from 00:00 EDT on the fall-back day ends at 03:00 EST', () => {
    const w = Schedule.parse('cron(0 0 * * ? *)', { ...NY, durationHours: 4 }).windowsFrom(T('2026-11-01T03:00:00Z'), 1)[0];
    assert.deepEqual(w, { start: T('2026-11-01T04:00:00Z'), end: T('2026-11-01T08:00:00Z'), lastTaskStart: T('2026-11-01T08:00:00Z') });
  });
  it('lastTaskStart = start + duration − cutoff (doc: 3 PM, 3 h, cutoff 1 → 5 PM)', () => {
    const [o] = Schedule.parse('cron(0 15 * * ? *)', { durationHours: 3, cutoffHours: 1 }).next(T('2026-01-01T00:00:00Z'));
    assert.equal(o?.lastTaskStart, T('2026-01-01T17:00:00Z'));
  });
  it('occurrences carry no end without a duration', () => {
    assert.deepEqual(Schedule.parse('cron(0 15 * * ? *)').next(T('2026-01-01T00:00:00Z')), [{ start: T('2026-01-01T15:00:00Z') }]);
  });
});
