/**
 * `simulate` jumps over quiet stretches instead of ticking at every interval. The jumps must change nothing but the
 * number of ticks: the same report and the same events, at the same instants, as a controller ticking every interval.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import type { FleetConfig } from '../../src/config/config.js';
import { simulate, type SimulationReport } from '../../src/app/simulate.js';
import type { ControllerEvent } from '../../src/reconciler/reconciler.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));
const T = (iso: string): number => Date.parse(iso);

async function run(config: FleetConfig, from: number, to: number, everyInterval: boolean): Promise<{ report: Omit<SimulationReport, 'ticks'>; ticks: number; events: string[] }> {
  const events: string[] = [];
  // Lease renewals are the controller's own bookkeeping (a skipped tick renews nothing); everything else is compared.
  const onEvent = (e: ControllerEvent): void => {
    if (e.type !== 'lease') events.push(`${new Date(e.at).toISOString()} ${JSON.stringify(e)}`);
  };
  const { ticks, ...report } = await simulate(config, from, to, onEvent, { everyInterval });
  return { report, ticks, events };
}

/**
 * Two groups whose windows and subfleet keep them busy, with boots of uneven length (off the tick grid) and failing
 * starts and stops (their error back-offs end while the fleet is otherwise at rest).
 */
const busy = parseConfigText(`provider: simulator
controller: { tickInterval: 30s, leaseTtl: 2m }
simulator:
  start: "2026-06-01T00:00:00Z"
  bootTime: { min: 41s, max: 97s }
  faults: { errorRate: 0.15 }
  groups:
    web: { instances: 12, lighthouse: 1, running: true, subfleets: { batch: 3 } }
    api: { instances: 8, running: false }
groups:
  - name: web
    fleets: { main: { min: 2, desired: 50% }, subfleets: { batch: { state: stopped } } }
    events:
      enter-maintenance-window-period: { enabled: true }
      exit-maintenance-window-period: { enabled: true }
    maintenance:
      windows:
        - { name: FW-web-a, schedule: "cron(17 3 * * ? *)", durationHours: 1 }
        - { name: FW-web-b, schedule: "cron(43 14 ? * MON,WED *)", timezone: Europe/London, durationHours: 2 }
  - name: api
    fleets: { main: { desired: 2 } }
    maintenance:
      windows:
        - { name: FW-api-nightly, schedule: "cron(5 1 * * ? *)", durationHours: 2 }
`);

describe('simulate: jumping over quiet stretches changes nothing but the tick count', () => {
  it('two busy days from an instant off the tick grid: the same report and events as ticking every interval', async () => {
    const from = T('2026-06-01T00:00:17Z');
    const to = from + 2 * 86_400_000;
    const every = await run(busy, from, to, true);
    const jumped = await run(busy, from, to, false);
    assert.ok(every.report.starts > 10 && every.report.stops > 10, `the days have real work (${every.report.starts} starts, ${every.report.stops} stops)`);
    assert.ok(every.events.some((e) => e.includes('refused') && e.includes('(simulated)')), 'some starts or stops failed');
    assert.ok(jumped.ticks < every.ticks / 5, `${jumped.ticks} ticks jumping, ${every.ticks} at every interval`);
    assert.deepEqual(jumped.report, every.report);
    assert.deepEqual(jumped.events, every.events);
  });

  it('a start that keeps failing, with nothing else moving: retried when each back-off ends, as at every interval', async () => {
    const config = parseConfigText(`provider: simulator
controller: { tickInterval: 30s, leaseTtl: 2m }
simulator:
  start: "2026-06-01T00:00:00Z"
  faults: { errorRate: 1 }
  groups:
    api: { instances: 1, running: false }
groups:
  - name: api
    fleets: { main: { desired: 1 } }
`);
    const from = T('2026-06-01T00:00:00Z');
    const to = from + 3_600_000;
    const every = await run(config, from, to, true);
    const jumped = await run(config, from, to, false);
    assert.ok(every.report.starts > 3, `the start is retried (${every.report.starts} starts in an hour)`);
    assert.deepEqual(jumped.report, every.report);
    assert.deepEqual(jumped.events, every.events);
  });

  it('the demo fleet (workload tiers, maintenance tasks) for ten hours: the same report and events', async () => {
    const config = loadConfigFile(DEMO);
    const from = T('2026-06-01T01:40:00Z');
    const to = from + 10 * 3_600_000;
    const every = await run(config, from, to, true);
    const jumped = await run(config, from, to, false);
    assert.ok(every.report.starts > 10, `the day has real work (${every.report.starts} starts)`);
    assert.ok(jumped.ticks < every.ticks, `${jumped.ticks} ticks jumping, ${every.ticks} at every interval`);
    assert.deepEqual(jumped.report, every.report);
    assert.deepEqual(jumped.events, every.events);
  });
});
