import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { activeUnionAt, Schedule, unionBetween, unionPeriods } from '../../src/schedule/index.js';

const T = (iso: string): number => Date.parse(iso);
const H = 3_600_000;
const M = 60_000;

describe('unionPeriods', () => {
  it('merges overlapping and touching periods, keeps gaps, drops empty ones', () => {
    assert.deepEqual(
      unionPeriods([
        { start: 50, end: 60 },
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 15, end: 18 },
        { start: 30, end: 30 },
        { start: 40, end: 55 },
      ]),
      [
        { start: 0, end: 20 },
        { start: 40, end: 60 },
      ],
    );
  });

  it('property: the union covers exactly the points some period covers', () => {
    const period = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 40 })).map(([s, l]) => ({ start: s, end: s + l }));
    fc.assert(
      fc.property(fc.array(period, { maxLength: 12 }), (periods) => {
        const union = unionPeriods(periods);
        for (let x = 0; x <= 240; x++) {
          const inAny = periods.some((p) => p.start <= x && x < p.end);
          const inUnion = union.filter((p) => p.start <= x && x < p.end).length;
          assert.equal(inUnion, inAny ? 1 : 0, `point ${x}`);
        }
        for (let i = 1; i < union.length; i++) assert.ok(union[i]!.start > union[i - 1]!.end, 'disjoint, not touching, ascending');
      }),
      { numRuns: 300 },
    );
  });
});

describe('activeUnionAt: several windows matching one fleet combine as a union (seed 000)', () => {
  // A group window 02:00-05:00 UTC daily and a main-fleet window 04:00-06:00 UTC on Mondays (2026-01-05 is one).
  const group = Schedule.parse('cron(0 2 * * ? *)', { durationHours: 3 });
  const mainFleet = Schedule.parse('cron(0 4 ? * MON *)', { durationHours: 2 });

  it('overlapping windows of different schedules form one period', () => {
    assert.deepEqual(activeUnionAt([group, mainFleet], T('2026-01-05T03:00:00Z')), { start: T('2026-01-05T02:00:00Z'), end: T('2026-01-05T06:00:00Z') });
    assert.deepEqual(activeUnionAt([group, mainFleet], T('2026-01-05T05:30:00Z')), { start: T('2026-01-05T02:00:00Z'), end: T('2026-01-05T06:00:00Z') });
  });

  it('on a day only one matches, the period is that window', () => {
    assert.deepEqual(activeUnionAt([group, mainFleet], T('2026-01-06T03:00:00Z')), { start: T('2026-01-06T02:00:00Z'), end: T('2026-01-06T05:00:00Z') });
    assert.equal(activeUnionAt([group, mainFleet], T('2026-01-06T05:30:00Z')), null);
  });

  it('start-ahead extends each window before its start and can bridge a gap', () => {
    // 05:00-06:00 and 06:10-07:00: with 15 min ahead the second is active from 05:55, so they chain.
    const a = Schedule.parse('cron(0 5 * * ? *)', { durationHours: 1 });
    const b = Schedule.parse('cron(10 6 * * ? *)', { durationHours: 1 });
    assert.deepEqual(activeUnionAt([a, b], T('2026-01-05T05:50:00Z'), 15 * M), { start: T('2026-01-05T04:45:00Z'), end: T('2026-01-05T07:10:00Z') });
    assert.deepEqual(activeUnionAt([a, b], T('2026-01-05T05:50:00Z'), 5 * M), { start: T('2026-01-05T04:55:00Z'), end: T('2026-01-05T06:00:00Z') });
  });

  it('overlapping occurrences of one schedule chain (every 30 min, 1 h long)', () => {
    const s = Schedule.parse('cron(0/30 8-9 * * ? *)', { durationHours: 1 });
    assert.deepEqual(activeUnionAt([s], T('2026-01-05T08:45:00Z')), { start: T('2026-01-05T08:00:00Z'), end: T('2026-01-05T10:30:00Z') });
  });
});

describe('unionBetween', () => {
  it('lists merged periods overlapping a range, including the one in progress', () => {
    const group = Schedule.parse('cron(0 2 * * ? *)', { durationHours: 3 });
    const mainFleet = Schedule.parse('cron(0 4 ? * MON *)', { durationHours: 2 });
    assert.deepEqual(unionBetween([group, mainFleet], T('2026-01-05T03:00:00Z'), T('2026-01-07T00:00:00Z')), [
      { start: T('2026-01-05T02:00:00Z'), end: T('2026-01-05T06:00:00Z') },
      { start: T('2026-01-06T02:00:00Z'), end: T('2026-01-06T05:00:00Z') },
    ]);
  });

  it('property: a point is in some listed period exactly when activeUnionAt says it is active', () => {
    const schedules = fc.array(
      fc.tuple(fc.constantFrom('cron(0 2 * * ? *)', 'cron(30 3 ? * MON-FRI *)', 'cron(0/45 10-12 * * ? *)', 'cron(15 23 L * ? *)', 'cron(0 0 ? * SUN *)'), fc.integer({ min: 1, max: 6 })).map(([e, h]) => Schedule.parse(e, { durationHours: h, timezone: 'Europe/London' })),
      { minLength: 1, maxLength: 3 },
    );
    fc.assert(
      fc.property(schedules, fc.integer({ min: T('2026-01-01T00:00:00Z'), max: T('2026-12-01T00:00:00Z') }), fc.integer({ min: 0, max: 60 }), (ss, from, aheadMin) => {
        const ahead = aheadMin * M;
        const to = from + 3 * 24 * H;
        const listed = unionBetween(ss, from, to, ahead);
        for (let x = from; x < to; x += 7 * M) {
          const inListed = listed.some((p) => p.start <= x && x < p.end);
          assert.equal(inListed, activeUnionAt(ss, x, ahead) !== null, new Date(x).toISOString());
        }
      }),
      { numRuns: 40 },
    );
  });
});
