import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/program.js';

const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Occurrences {
  occurrences: { start: string; end?: string; lastTaskStart?: string }[];
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

function spawn(...argv: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fleetwarden schedule next', () => {
  it('--json prints occurrences with end and lastTaskStart when a duration is given', async () => {
    const r = await run('schedule', 'next', 'cron(0 30 23 ? * TUE#3 *)', '--timezone', 'America/New_York', '--offset-days', '2', '--duration-hours', '4', '--cutoff-hours', '1', '--after', '2026-11-01T00:00:00Z', '--count', '2', '--json');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), {
      occurrences: [
        { start: '2026-11-20T04:30:00Z', end: '2026-11-20T08:30:00Z', lastTaskStart: '2026-11-20T07:30:00Z' },
        { start: '2026-12-18T04:30:00Z', end: '2026-12-18T08:30:00Z', lastTaskStart: '2026-12-18T07:30:00Z' },
      ],
    });
  });

  it('--json without a duration has only starts', async () => {
    const r = await run('schedule', 'next', 'cron(30 2 * * ? *)', '--timezone', 'America/New_York', '--after', '2026-03-07T12:00:00Z', '--count', '1', '--json');
    assert.deepEqual(JSON.parse(r.out), { occurrences: [{ start: '2026-03-09T06:30:00Z' }] });
  });

  it('the table shows UTC and local times', async () => {
    const r = await run('schedule', 'next', 'cron(30 1 * * ? *)', '--timezone', 'Europe/London', '--after', '2026-10-24T12:00:00Z', '--count', '2');
    assert.equal(r.code, 0);
    assert.match(r.out, /2026-10-25T00:30:00Z\s+2026-10-25 01:30:00 \+01:00/);
    assert.match(r.out, /2026-10-26T01:30:00Z\s+2026-10-26 01:30:00 \+00:00/);
  });

  it('honours --start-date, --end-date, --created-at and --disabled', async () => {
    const dated = await run('schedule', 'next', 'rate(1 day)', '--start-date', '2026-01-01T06:00:00Z', '--end-date', '2026-01-02T06:00:00Z', '--after', '2025-12-01T00:00:00Z', '--json');
    assert.deepEqual((JSON.parse(dated.out) as Occurrences).occurrences.map((o) => o.start), ['2026-01-01T06:00:00Z', '2026-01-02T06:00:00Z']);
    const created = await run('schedule', 'next', 'cron(0 30 23 ? * TUE#3 *)', '--offset-days', '2', '--created-at', '2026-11-18T00:00:00Z', '--after', '2026-11-18T00:00:00Z', '--count', '1', '--json');
    assert.equal((JSON.parse(created.out) as Occurrences).occurrences[0]?.start, '2026-12-17T23:30:00Z');
    const disabled = await run('schedule', 'next', 'cron(0 10 * * ? *)', '--disabled', '--after', '2026-01-01T00:00:00Z', '--json');
    assert.deepEqual(JSON.parse(disabled.out), { occurrences: [] });
  });
});

describe('fleetwarden schedule active', () => {
  it('--json gives one result per --at, in order, including windows that began earlier', async () => {
    const r = await run('schedule', 'active', 'cron(0 9 ? * * *)', '--timezone', 'Europe/London', '--duration-hours', '3', '--start-ahead-minutes', '15', '--at', '2026-06-01T10:30:00Z', '--at', '2026-06-01T07:40:00Z', '--at', '2026-06-01T07:50:00Z', '--json');
    assert.equal(r.code, 0);
    const window = { start: '2026-06-01T08:00:00Z', end: '2026-06-01T11:00:00Z', lastTaskStart: '2026-06-01T11:00:00Z' };
    assert.deepEqual(JSON.parse(r.out), {
      results: [
        { at: '2026-06-01T10:30:00Z', active: true, window },
        { at: '2026-06-01T07:40:00Z', active: false, window: null },
        { at: '2026-06-01T07:50:00Z', active: true, window },
      ],
    });
  });

  it('requires a duration and says so', async () => {
    const r = await run('schedule', 'active', 'cron(0 9 ? * * *)', '--at', '2026-06-01T10:30:00Z');
    assert.equal(r.code, 2);
    assert.match(r.err, /--duration-hours: is required/);
    assert.equal(r.out, '');
  });
});

describe('fleetwarden schedule check', () => {
  it('describes a valid expression in plain English', async () => {
    const r = await run('schedule', 'check', 'cron(0 30 23 ? * TUE#3 *)');
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), 'valid: At 23:30, on the third Tuesday of the month, every month, every year');
    const lw = await run('schedule', 'check', 'cron(0 8 LW JAN-MAR ? 2027)', '--json');
    assert.deepEqual(JSON.parse(lw.out), { valid: true, kind: 'cron', expression: 'cron(0 8 LW JAN-MAR ? 2027)', description: 'At 08:00, on the last weekday (Monday-Friday) of the month, in January through March, in 2027' });
  });
});

describe('bad input: exit non-zero, error on stderr, nothing on stdout (real process)', () => {
  const cases: readonly (readonly [string[], RegExp])[] = [
    [['schedule', 'check', 'cron(0 10 * * * *)'], /^error: day-of-week: a value is set in both day-of-month and day-of-week; one of them must be '\?'\n$/],
    [['schedule', 'next', 'cron(0 10 * * ? *)', '--after', '2026-02-30T00:00:00Z'], /--after: day 30 does not exist/],
    [['schedule', 'next', 'cron(0 10 * * ? *)'], /--after: is required/],
    [['schedule', 'next', 'cron(0 10 * * ? *)', '--after', '2026-01-01', '--timezone', 'Nowhere/City'], /--timezone: unknown time zone/],
    [['schedule', 'next', 'cron(0 10 * * ? *)', '--after', '2026-01-01', '--cutoff-hours', '3', '--duration-hours', '2'], /--cutoff-hours: must be at most duration − 1 \(1\)/],
    [['schedule', 'next', 'cron(0 10 * * ? *)', '--after', '2026-01-01', '--count', 'lots'], /--count: expected a whole number/],
    [['schedule', 'next', 'cron(0 10 * * ? *)', '--after', '2026-01-01', '--frobnicate'], /--frobnicate: Unknown option/],
    [['schedule', 'frob'], /unknown command "schedule frob"/],
  ];
  for (const [argv, pattern] of cases) {
    it(argv.join(' '), () => {
      const r = spawn(...argv);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, pattern);
      assert.doesNotMatch(r.err, /at .*\.js:\d+/); // no stack trace for user mistakes
    });
  }

  it('--help explains each command and exits 0', () => {
    const r = spawn('schedule', 'next', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /--offset-days N/);
    assert.match(r.out, /spring-forward gap is skipped/);
  });
});
