import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScheduleError } from '../../src/domain/errors.js';
import { Schedule, type WindowOptions } from '../../src/schedule/index.js';

const BAD: readonly (readonly [string, WindowOptions, string, RegExp])[] = [
  ['cron(0 10 * * * *)', {}, 'day-of-week', /both day-of-month and day-of-week/],
  ['cron(0 10 ? * ? *)', {}, 'day-of-week', /only one of them may be '\?'/],
  ['cron(0 10 1 * MON *)', {}, 'day-of-week', /one of them must be '\?'/],
  ['cron(0 10 * *)', {}, 'expression', /expected 6 fields/],
  ['cron(0 0 10 * * ? * *)', {}, 'expression', /got 8/],
  ['cron(60 10 * * ? *)', {}, 'minutes', /out of range 0-59/],
  ['cron(0 24 * * ? *)', {}, 'hours', /out of range 0-23/],
  ['cron(0 0 32 * ? *)', {}, 'day-of-month', /out of range 1-31/],
  ['cron(0 0 0 * ? *)', {}, 'day-of-month', /out of range 1-31/],
  ['cron(0 0 1 13 ? *)', {}, 'month', /out of range 1-12/],
  ['cron(0 0 ? * 8 *)', {}, 'day-of-week', /out of range 1-7/],
  ['cron(0 0 1 * ? 1969)', {}, 'year', /out of range 1970-2199/],
  ['cron(0 0 1 * ? 2200)', {}, 'year', /out of range 1970-2199/],
  ['cron(0 22-2 * * ? *)', {}, 'hours', /wrapping ranges are not supported/],
  ['cron(0 0 ? * FRI-MON *)', {}, 'day-of-week', /runs backwards/],
  ['cron(0 0 ? NOV-FEB * *)', {}, 'month', /runs backwards/],
  ['cron(0/0 0 * * ? *)', {}, 'minutes', /step "0"/],
  ['cron(0 0 1,,2 * ? *)', {}, 'day-of-month', /empty item/],
  ['cron(0 0 1W,15W * ? *)', {}, 'day-of-month', /cannot be combined/],
  ['cron(0 0 L-31 * ? *)', {}, 'day-of-month', /L-n takes n from 0 to 30/],
  ['cron(0 0 ? * MON#6 *)', {}, 'day-of-week', /k in n#k must be from 1 to 5/],
  ['cron(0 0 ? * 2#1,3#1 *)', {}, 'day-of-week', /only one '#'/],
  ['cron(0 0 ? * 15W *)', {}, 'day-of-week', /not a valid value/],
  ['cron(0 0 1#2 * ? *)', {}, 'day-of-month', /only allowed in day-of-week/],
  ['cron(0 ? 1 * ? *)', {}, 'hours', /only allowed in day-of-month and day-of-week/],
  ['cron(L 0 1 * ? *)', {}, 'minutes', /L, W and # are only allowed/],
  ['cron(0/2 * * * ? *)', {}, 'minutes', /less than 5 minutes apart \(00:00 and 00:02\)/],
  ['cron(3/7 * * * ? *)', {}, 'minutes', /less than 5 minutes apart \(00:59 and 01:03\)/],
  ['cron(0,30 10 * * * ? *)', {}, 'seconds', /less than 5 minutes apart/],
  ['cron(0,58 0,23 * * ? *)', {}, 'minutes', /across midnight \(23:58 and 00:00 the next day\)/],
  ['cron(0 0 1 1 ? 2026)', { offsetDays: 7 }, 'offsetDays', /from 0 to 6/],
  ['rate(5 minutes)', { offsetDays: 1, startDate: 0 }, 'offsetDays', /cron expressions only/],
  ['rate(4 minutes)', { startDate: 0 }, 'rate', /less than 5 minutes apart/],
  ['rate(1 hours)', { startDate: 0 }, 'rate', /singular unit with 1/],
  ['rate(5 hour)', { startDate: 0 }, 'rate', /plural unit with 5/],
  ['rate(5 weeks)', { startDate: 0 }, 'rate', /unit "weeks" is not valid/],
  ['rate(0 minutes)', { startDate: 0 }, 'rate', /whole number from 1/],
  ['rate(99999999999999 minutes)', { startDate: 0 }, 'rate', /whole number from 1 to 999999/],
  ['rate(10 minutes)', {}, 'startDate', /anchor/],
  ['at(2026-02-30T00:00:00)', {}, 'at', /day 30 does not exist/],
  ['at(2026-01-01 10:00)', {}, 'at', /expected at\(yyyy-mm-ddThh:mm:ss\)/],
  ['cron(0 10 * * ? *)', { timezone: 'Mars/Olympus' }, 'timezone', /unknown time zone "Mars\/Olympus"/],
  ['cron(0 10 * * ? *)', { durationHours: 0 }, 'durationHours', /from 1 to 24/],
  ['cron(0 10 * * ? *)', { durationHours: 25 }, 'durationHours', /from 1 to 24/],
  ['cron(0 10 * * ? *)', { durationHours: 1.5 }, 'durationHours', /whole number/],
  ['cron(0 10 * * ? *)', { durationHours: 5, cutoffHours: 5 }, 'cutoffHours', /at most duration − 1 \(4\)/],
  ['cron(0 10 * * ? *)', { cutoffHours: 1 }, 'cutoffHours', /needs a duration/],
  ['cron(0 10 * * ? *)', { startDate: 10, endDate: 5 }, 'endDate', /before startDate/],
  ['', {}, 'expression', /empty/],
  ['cron(0 10 * * ? *', {}, 'expression', /not a schedule expression/],
  [`cron(${'1,'.repeat(200)}1 * * * ? *)`, {}, 'expression', /at most 256/],
];

describe('invalid schedules: a typed error naming the field and the reason', () => {
  for (const [expr, opts, field, reason] of BAD) {
    it(`${expr.slice(0, 60)} ${JSON.stringify(opts)} → ${field}`, () => {
      assert.throws(
        () => Schedule.parse(expr, opts),
        (err: unknown) => {
          assert.ok(err instanceof ScheduleError, String(err));
          assert.equal(err.field, field);
          assert.match(err.reason, reason);
          assert.ok(err.message.startsWith(`${field}: `));
          return true;
        },
      );
    });
  }

  it('accepts the valid edge cases next to those errors', () => {
    for (const expr of ['cron(0/5 * * * ? *)', 'cron(0 0 L-30 * ? *)', 'cron(0 0 ? * 7#5 *)', 'cron(0 0 1 1 ? 1970,2199)', 'cron(0 0 ? * WED *)', 'cron(0 0 ? JUL * *)', 'rate(5 minutes)', 'rate(1 day)']) {
      assert.doesNotThrow(() => Schedule.parse(expr, { startDate: 0 }), expr);
    }
    assert.doesNotThrow(() => Schedule.parse('cron(0 10 * * ? *)', { durationHours: 24, cutoffHours: 23, timezone: 'etc/UTC' }));
  });
});
