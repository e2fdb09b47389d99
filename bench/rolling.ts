/**
 * Rolling maintenance on the simulated cloud: 100 instances behind a target group, MaxConcurrency 10, every step's
 * duration fixed — drain (deregistration delay = drain minimum), the task (a run that exits 194, a reboot, a second
 * run), and the health checks passing after the instance is registered again. The total is compared with the
 * theoretical minimum ceil(N / c) × (drain + task + boot + healthy), with the controller ticking every 5 s.
 */
import { performance } from 'node:perf_hooks';
import { openSimulatedController, virtualTime } from '../src/app/compose.js';
import { parseConfigText } from '../src/config/load.js';
import { outOfService } from '../test/reconciler/invariants.js';
import { fmt, printTable } from './lib.js';

const N = 100;
const C = 10;
const TICK_S = 5;

interface Steps {
  readonly drain: number;
  readonly run: number;
  readonly reboot: number;
  readonly healthy: number;
}

export async function benchRolling(): Promise<void> {
  console.log(`\n## rolling maintenance in the simulator: ${N} instances, concurrency ${C}, tick ${TICK_S} s`);
  // Durations that are multiples of the tick, then ones that are not (each phase then waits for the next tick).
  await rolling({ drain: 30, run: 20, reboot: 60, healthy: 20 });
  await rolling({ drain: 33, run: 17, reboot: 61, healthy: 22 });
}

async function rolling(steps: Steps): Promise<void> {
  const { drain: DRAIN_S, run: RUN_S, reboot: REBOOT_S, healthy: HEALTHY_S } = steps;
  const start = '2026-06-07T01:50:00Z';
  const config = parseConfigText(`
controller: { tickInterval: ${TICK_S}s, leaseTtl: 30s }
simulator:
  start: "${start}"
  deregistrationDelay: ${DRAIN_S}s
  healthyAfter: ${HEALTHY_S}s
  groups:
    web:
      instances: ${N}
      running: true
      rebootTime: ${REBOOT_S}s
      commands:
        - { match: patch, duration: ${RUN_S}s, exits: { ${Array.from({ length: N }, (_, k) => `i-web-${String(k + 1).padStart(3, '0')}: [194, 0]`).join(', ')} } }
groups:
  - name: web
    fleets: { main: { min: ${N}, desired: ${N} } }
    lifecycle: { warmUp: 10s, drainMinimum: ${DRAIN_S}s }
    maintenance:
      windows:
        - name: FW-web-patch
          schedule: cron(0 2 * * ? *)
          durationHours: 6
          tasks:
            - name: patch
              command: "patch && reboot-if-needed"
              drain: true
              maxConcurrency: ${C}
              capacityFloor: ${N - C}
`);
  const { clock, sleep } = virtualTime(Date.parse(start));
  const ctl = openSimulatedController(config, { stateDir: '', clock, sleep, worldFile: null, storePath: ':memory:', owner: 'bench' });
  const wall = performance.now();
  let ticks = 0;
  let status = 'none';
  const windowStart = Date.parse('2026-06-07T02:00:00Z');
  while (clock.now() < windowStart + 6 * 3_600_000) {
    await ctl.reconciler.tick();
    ticks++;
    const [e] = await ctl.store.executions({ limit: 1 });
    status = e?.status ?? 'none';
    if (e !== undefined && e.status !== 'IN_PROGRESS') break;
    clock.set(clock.now() + TICK_S * 1000);
  }
  const [exec] = await ctl.store.executions({ limit: 1 });
  const totalS = ((exec?.endedAt ?? clock.now()) - windowStart) / 1000;
  const perBatch = DRAIN_S + (2 * RUN_S + REBOOT_S) + HEALTHY_S;
  const minimum = Math.ceil(N / C) * perBatch;
  const maxOut = outOfService(ctl.simulator?.actions ?? []).max;
  await ctl.close();
  printTable(
    ['measure', 'value'],
    [
      ['execution status', status],
      ['instances patched', String(exec?.tasks[0]?.invocations.filter((i) => i.status === 'success').length ?? 0)],
      ['most out of service at once', String(maxOut)],
      ['total (simulated)', `${fmt(totalS)} s`],
      [`theoretical minimum ceil(${N}/${C}) × (${DRAIN_S} + ${2 * RUN_S + REBOOT_S} + ${HEALTHY_S}) s`, `${fmt(minimum)} s`],
      ['ratio total / minimum', fmt(totalS / minimum, 2)],
      ['controller ticks', String(ticks)],
      ['wall time', `${fmt((performance.now() - wall) / 1000, 2)} s`],
    ],
  );
}
