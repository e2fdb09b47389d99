/**
 * Rolling maintenance on the simulated cloud: 100 instances behind a target group, MaxConcurrency 10, every step's
 * duration fixed — drain (deregistration delay = drain minimum), the task (a run that exits 194, a reboot, a second
 * run), and the health checks passing after the instance is registered again. The total is compared with the
 * theoretical minimum ceil(N / c) × (drain + task + boot + healthy), with the controller ticking every 5 s. A third
 * run puts the drain handshake in the loop: simulated agents confirm each goal 1 s after it is set, and — as
 * `fleetwarden run` does when an agent's report arrives — the controller ticks then instead of at its interval; the
 * minimum then counts the four confirmations of each batch (health fails, block, unblock, health passes).
 */
import { performance } from 'node:perf_hooks';
import { openSimulatedController, virtualTime } from '../src/app/compose.js';
import { parseConfigText } from '../src/config/load.js';
import { agentGoal } from '../src/maintenance/execution.js';
import { outOfService } from '../test/reconciler/invariants.js';
import { fmt, printTable } from './lib.js';

const N = 100;
const C = 10;
const TICK_S = 5;
/** The agents' confirmation delay in the handshake run (a long poll's answer, the firewall, the report). */
const AGENT_S = 1;

interface Steps {
  readonly drain: number;
  readonly run: number;
  readonly reboot: number;
  readonly healthy: number;
  /** Simulated agents confirm every goal after AGENT_S (agent.confirm: true). */
  readonly handshake?: boolean;
}

export async function benchRolling(): Promise<void> {
  console.log(`\n## rolling maintenance in the simulator: ${N} instances, concurrency ${C}, tick ${TICK_S} s (the third run with the drain handshake)`);
  // Durations that are multiples of the tick, then ones that are not (each phase then waits for the next tick).
  await rolling({ drain: 30, run: 20, reboot: 60, healthy: 20 });
  await rolling({ drain: 33, run: 17, reboot: 61, healthy: 22 });
  await rolling({ drain: 30, run: 20, reboot: 60, healthy: 20, handshake: true });
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
    agent: { confirm: ${steps.handshake === true} }
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
  // The simulated agents: the goal each is applying, and when its report reaches the controller.
  const applying = new Map<string, { version: string; ports: 'open' | 'blocked'; health: 'pass' | 'fail'; at: number }>();
  const reported = new Set<string>();
  const lastReport = new Map<string, number>();
  while (clock.now() < windowStart + 6 * 3_600_000) {
    await ctl.reconciler.tick();
    ticks++;
    const [e] = await ctl.store.executions({ limit: 1 });
    status = e?.status ?? 'none';
    if (e !== undefined && e.status !== 'IN_PROGRESS') break;
    let next = clock.now() + TICK_S * 1000;
    if (steps.handshake === true) {
      const state = await ctl.store.loadGroup('web');
      for (const r of state.records.values()) {
        const goal = agentGoal(r.instanceId, r.state, r.since, state.executions);
        const known = applying.get(r.instanceId);
        if (known?.version !== goal.version) {
          applying.set(r.instanceId, { ...goal, at: clock.now() + AGENT_S * 1000 });
          reported.delete(r.instanceId);
        }
      }
      const due = [...applying].filter(([id]) => !reported.has(id)).map(([, a]) => a.at);
      if (due.length > 0) next = Math.min(next, Math.max(clock.now() + 200, Math.min(...due)));
    }
    clock.set(next);
    // Reports that have arrived by now: an agent's report wakes the controller for a tick (docs/agent.md#drain-handshake).
    // An agent also reports with every long poll's answer, at least every 25 s: its report stays fresh.
    for (const [id, a] of applying) {
      if (a.at > clock.now() || (reported.has(id) && clock.now() - (lastReport.get(id) ?? 0) < 25_000)) continue;
      await ctl.store.recordAgentAck({ instanceId: id, group: 'web', version: a.version, ports: a.ports, health: a.health, state: 'running', at: clock.now() });
      reported.add(id);
      lastReport.set(id, clock.now());
    }
  }
  const [exec] = await ctl.store.executions({ limit: 1 });
  const totalS = ((exec?.endedAt ?? clock.now()) - windowStart) / 1000;
  const confirmations = steps.handshake === true ? 4 * AGENT_S : 0;
  const perBatch = DRAIN_S + (2 * RUN_S + REBOOT_S) + HEALTHY_S + confirmations;
  const minimum = Math.ceil(N / C) * perBatch;
  const maxOut = outOfService(ctl.simulator?.actions ?? []).max;
  await ctl.close();
  printTable(
    ['measure', 'value'],
    [
      ['execution status', status],
      ['instances patched', String(exec?.tasks[0]?.invocations.filter((i) => i.status === 'SUCCESS').length ?? 0)],
      ['most out of service at once', String(maxOut)],
      ['total (simulated)', `${fmt(totalS)} s`],
      [`theoretical minimum ceil(${N}/${C}) × (${DRAIN_S} + ${2 * RUN_S + REBOOT_S} + ${HEALTHY_S}${confirmations > 0 ? ` + 4 confirmations × ${AGENT_S}` : ''}) s`, `${fmt(minimum)} s`],
      ['ratio total / minimum', fmt(totalS / minimum, 2)],
      ['controller ticks', String(ticks)],
      ['wall time', `${fmt((performance.now() - wall) / 1000, 2)} s`],
    ],
  );
}
