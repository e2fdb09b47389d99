/**
 * Next-occurrence throughput of the schedule engine against croner on the same expressions and zones.
 * Each op computes the next occurrence after one of 2,000 fixed instants spread over 2026-2028.
 * croner reads Quartz weekday numbers with `alternativeWeekdays`; its DST policy differs from ours (it shifts
 * times out of a gap instead of skipping them), so the agreement column counts instants where both answer alike.
 */
import { Cron } from 'croner';
import { Schedule } from '../src/schedule/index.js';
import { fmt, geometricMean, measure, printTable } from './lib.js';

interface Case {
  readonly aws: string;
  /** The croner pattern for the same schedule (seconds first, no year), or null when croner cannot express it. */
  readonly croner: string | null;
}

const CASES: readonly Case[] = [
  { aws: 'cron(0 10 * * ? *)', croner: '0 0 10 * * ?' },
  { aws: 'cron(30 2 * * ? *)', croner: '0 30 2 * * ?' },
  { aws: 'cron(0/15 * * * ? *)', croner: '0 */15 * * * ?' },
  { aws: 'cron(0 9 ? * MON-FRI *)', croner: '0 0 9 ? * MON-FRI' },
  { aws: 'cron(0 30 23 ? * TUE#3 *)', croner: '0 30 23 ? * TUE#3' },
  { aws: 'cron(0 4 L * ? *)', croner: '0 0 4 L * ?' },
  { aws: 'cron(0 6 ? * 6L *)', croner: '0 0 6 ? * 6L' },
  { aws: 'cron(0 0 15W * ? *)', croner: '0 0 0 15W * ?' },
  { aws: 'cron(0 8 1 JAN,JUL ? 2026-2030)', croner: null },
];
const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe'] as const;

const START = Date.parse('2026-01-01T00:00:00Z');
const SPAN = 3 * 365 * 86_400_000;
const INSTANTS: number[] = [];
let seed = 42;
for (let i = 0; i < 2000; i++) {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  INSTANTS.push(START + Math.floor((seed / 2_147_483_648) * SPAN / 1000) * 1000);
}
const DATES = INSTANTS.map((t) => new Date(t));

export function benchSchedule(): void {
  console.log('\n== bench/schedule: next occurrence, fleetwarden vs croner ==');
  const rows: string[][] = [];
  const ratios: number[] = [];
  let ourTotal = 0;
  let cronerTotal = 0;
  for (const c of CASES) {
    for (const zone of ZONES) {
      const schedule = Schedule.parse(c.aws, { timezone: zone });
      const ours = measure((i) => schedule.next(INSTANTS[i % INSTANTS.length]!, 1)[0]);
      ourTotal += ours.opsPerSecond;
      if (c.croner === null) {
        rows.push([c.aws, zone, fmt(ours.opsPerSecond), 'n/a', 'n/a', 'n/a']);
        continue;
      }
      const job = new Cron(c.croner, { timezone: zone, alternativeWeekdays: true, paused: true });
      const theirs = measure((i) => job.nextRun(DATES[i % DATES.length]));
      cronerTotal += theirs.opsPerSecond;
      let agree = 0;
      for (let i = 0; i < INSTANTS.length; i++) {
        if ((schedule.next(INSTANTS[i]!, 1)[0]?.start ?? null) === (job.nextRun(DATES[i])?.getTime() ?? null)) agree++;
      }
      const ratio = ours.opsPerSecond / theirs.opsPerSecond;
      ratios.push(ratio);
      rows.push([c.aws, zone, fmt(ours.opsPerSecond), fmt(theirs.opsPerSecond), `${fmt(ratio, 2)}x`, `${fmt((100 * agree) / INSTANTS.length, 1)}%`]);
    }
  }
  printTable(['expression', 'zone', 'fleetwarden ops/s', 'croner ops/s', 'ratio', 'agree'], rows);
  console.log(`\nratio fleetwarden/croner, geometric mean over ${ratios.length} comparable cases: ${fmt(geometricMean(ratios), 2)}x (min ${fmt(Math.min(...ratios), 2)}x, max ${fmt(Math.max(...ratios), 2)}x)`);
  console.log(`mean ops/s: fleetwarden ${fmt(ourTotal / (CASES.length * ZONES.length))}, croner ${fmt(cronerTotal / ratios.length)}`);
}
