/**
 * The drain handshake in the execution engine (docs/agent.md#drain-handshake), in a small deterministic world: each
 * instance has an agent that applies the goal it is given after a delay and reports it, and a load balancer without
 * target groups that follows the agents' health answers after its detection time (as HAProxy's checks do). Over
 * whole rolls it checks what users would see: no task runs while the load balancer still routes to the instance or
 * its ports still take new connections; the load balancer never routes to blocked ports; the serving capacity never
 * drops below the floor; SUCCESS only once each instance is confirmed back. The same roll without confirmation breaks
 * these (the test sees the difference), and a silent agent fails its instance instead of letting it through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskDecl } from '../../src/config/config.js';
import type { AgentAck } from '../../src/domain/agent-ack.js';
import type { TargetHealth } from '../../src/domain/model.js';
import { parseMaxConcurrency, parseMaxErrors } from '../../src/maintenance/dispatch.js';
import { advanceExecution, agentGoal, type Handshake, heldInstances, newExecution, type TargetView } from '../../src/maintenance/execution.js';
import type { TaskRunResult, WindowExecution } from '../../src/maintenance/model.js';

const T0 = Date.parse('2026-06-07T02:00:00Z');
const S = 1000;
const TICK = S;

function drainTask(over: Partial<TaskDecl> = {}): TaskDecl {
  return { name: 'restart', priority: 1, command: 'systemctl restart app', document: null, output: null, runAfterFailure: false, targets: null, maxConcurrency: parseMaxConcurrency('2'), maxErrors: parseMaxErrors('0'), timeoutMs: 600 * S, cutoffBehavior: 'continue', rerunOnResume: false, drain: true, capacityFloor: { kind: 'absolute', value: 2 }, healthCheck: null, settleMs: 2 * S, ...over };
}

interface Applied {
  version: string;
  ports: 'blocked' | 'open';
  health: 'pass' | 'fail';
}

/** Instances with agents (apply a goal `agentDelayMs` after it is set) behind a health-checking load balancer. */
class World {
  now = T0;
  readonly applied = new Map<string, Applied>();
  /** Goals seen, applied at `at`. */
  readonly due = new Map<string, { at: number; goal: Applied }>();
  /** Whether the load balancer routes new connections to the instance, and since when its health answer changed. */
  readonly routed = new Map<string, boolean>();
  readonly healthSince = new Map<string, number>();
  readonly acks = new Map<string, AgentAck>();
  readonly pending: { at: number; result: TaskRunResult }[] = [];
  readonly violations: string[] = [];
  readonly notes: string[] = [];
  minServing = Infinity;
  readonly tg = new Map<string, TargetHealth>();

  constructor(
    readonly ids: string[],
    readonly o: { agentDelayMs: number; lbDetectionMs: number; silent?: Set<string>; withTg?: boolean },
  ) {
    for (const id of ids) {
      this.applied.set(id, { version: 'l-running-0', ports: 'open', health: 'pass' });
      this.routed.set(id, true);
      if (o.withTg === true) this.tg.set(id, 'healthy');
      if (o.silent?.has(id) !== true) this.acks.set(id, { instanceId: id, group: 'web', version: 'l-running-0', ports: 'open', health: 'pass', state: 'running', at: T0 });
    }
  }

  view(): Map<string, TargetView> {
    return new Map(this.ids.map((id) => [id, { id, running: true, healthy: true, targets: this.o.withTg === true ? { 'tg-1': this.tg.get(id) ?? 'unused' } : {}, tags: {}, fleet: 'main' }]));
  }

  run(tasks: TaskDecl[], handshake: Handshake, limit = 3000): WindowExecution {
    let exec = newExecution('web', 'FW-web', T0, T0 + 7_200_000, T0 + 7_200_000, tasks, T0);
    const running = new Set<string>();
    for (let n = 0; n < limit && exec.status === 'IN_PROGRESS'; n++) {
      // The agents: a new goal is applied after their delay, then reported (a silent agent applies, never reports).
      for (const id of this.ids) {
        const goal = agentGoal(id, 'running', 0, [exec]);
        const seen = this.due.get(id);
        if (seen?.goal.version !== goal.version && this.applied.get(id)?.version !== goal.version) this.due.set(id, { at: this.now + this.o.agentDelayMs, goal: { version: goal.version, ports: goal.ports, health: goal.health } });
        const d = this.due.get(id);
        if (d !== undefined && this.now >= d.at) {
          const before = this.applied.get(id);
          if (before?.health !== d.goal.health) this.healthSince.set(id, this.now);
          this.applied.set(id, d.goal);
          this.due.delete(id);
        }
        const a = this.applied.get(id) as Applied;
        if (this.o.silent?.has(id) !== true) this.acks.set(id, { instanceId: id, group: 'web', version: a.version, ports: a.ports, health: a.health, state: 'running', at: this.now });
        // The load balancer: with target groups, it routes to healthy targets; without, it follows the health answer
        // once its detection time has passed.
        if (this.o.withTg === true) this.routed.set(id, this.tg.get(id) === 'healthy');
        else if (this.now - (this.healthSince.get(id) ?? -Infinity) >= this.o.lbDetectionMs) this.routed.set(id, a.health === 'pass');
        if (this.routed.get(id) === true && a.ports === 'blocked') this.violations.push(`${(this.now - T0) / S}s: the load balancer sends new connections to ${id}, whose ports are blocked`);
        if (running.has(id) && this.routed.get(id) === true) this.violations.push(`${(this.now - T0) / S}s: the task runs on ${id} while the load balancer routes to it`);
      }
      const serving = this.ids.filter((id) => this.routed.get(id) === true && this.applied.get(id)?.ports === 'open' && !running.has(id)).length;
      this.minServing = Math.min(this.minServing, serving);
      const due = this.pending.filter((p) => p.at <= this.now);
      this.pending.splice(0, this.pending.length, ...this.pending.filter((p) => p.at > this.now));
      for (const p of due) running.delete(p.result.instanceId);
      const a = advanceExecution({ exec, tasks, instances: this.view(), results: new Map(due.map((p) => [`${p.result.commandId}/${p.result.instanceId}`, p.result])), probes: new Map(), drainWaitMs: 3 * S, probeTimeLimitMs: null, outElsewhere: new Set(), handshake, acks: this.acks, now: this.now });
      exec = a.exec;
      this.notes.push(...a.notes.map((x) => `${(this.now - T0) / S}s ${x.instanceId ?? ''} ${x.summary}`));
      for (const act of a.actions) {
        if (act.kind === 'run-script') {
          if (this.routed.get(act.instanceId) === true || this.applied.get(act.instanceId)?.ports !== 'blocked') this.violations.push(`${(this.now - T0) / S}s: the task started on ${act.instanceId} while it still takes new connections`);
          running.add(act.instanceId);
          this.pending.push({ at: this.now + 10 * S, result: { commandId: act.commandId, instanceId: act.instanceId, status: 'success', exitCode: 0, output: 'ok', at: this.now, reboots: 0 } });
        }
        if (act.kind === 'take-out') for (const id of [act.instanceId]) this.tg.set(id, 'draining');
        if (act.kind === 'put-back') {
          if (this.applied.get(act.instanceId)?.ports !== 'open' || this.applied.get(act.instanceId)?.health !== 'pass') this.violations.push(`${(this.now - T0) / S}s: ${act.instanceId} registered before its agent opened the ports and passed its health answer`);
          this.tg.set(act.instanceId, 'healthy');
        }
      }
      // A target group drains a deregistered target for 2 s.
      this.now += TICK;
      if (this.o.withTg === true) for (const [id, h] of this.tg) if (h === 'draining' && [...a.actions].every((x) => x.instanceId !== id)) this.tg.set(id, 'unused');
    }
    return exec;
  }
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `i-${String(i + 1).padStart(2, '0')}`);
const CONFIRM: Handshake = { confirm: true, confirmTimeoutMs: 30 * S, lbDetectionMs: 4 * S };

describe('drain handshake', () => {
  it('without a target group: health fails first, the load balancer stops routing, then the block; nothing runs before; the floor holds; SUCCESS after the confirmed way back', () => {
    const w = new World(ids(4), { agentDelayMs: 3 * S, lbDetectionMs: 4 * S });
    const exec = w.run([drainTask()], CONFIRM);
    assert.equal(exec.status, 'SUCCESS', JSON.stringify(exec.tasks[0]?.invocations.map((i) => i.detail)));
    assert.deepEqual(w.violations, []);
    assert.ok(w.minServing >= 2, `serving never below the floor of 2: saw ${w.minServing}`);
    // Every instance is confirmed back: ports open, health passing, reported by its agent.
    for (const id of ids(4)) assert.deepEqual({ ...w.applied.get(id), version: '' }, { version: '', ports: 'open', health: 'pass' });
    const confirmations = w.notes.filter((n) => n.includes('its agent confirmed'));
    assert.equal(confirmations.length, 4 * 4, 'four confirmed steps per instance (health fails, block, unblock, health passes)');
  });

  it('the same roll without confirmation breaks it: the task starts while the load balancer still routes to the instance (the test sees the difference)', () => {
    const w = new World(ids(4), { agentDelayMs: 3 * S, lbDetectionMs: 4 * S });
    w.run([drainTask()], { confirm: false, confirmTimeoutMs: 0, lbDetectionMs: 0 });
    assert.ok(w.violations.length > 0, 'without the handshake the controller moves on on its own decision');
  });

  it('with target groups: registered again only after the agent opened the ports and passes its health answer', () => {
    const w = new World(ids(3), { agentDelayMs: 2 * S, lbDetectionMs: 0, withTg: true });
    const exec = w.run([drainTask({ capacityFloor: { kind: 'absolute', value: 1 } })], CONFIRM);
    assert.equal(exec.status, 'SUCCESS');
    assert.deepEqual(w.violations, []);
    assert.ok([...w.tg.values()].every((h) => h === 'healthy'));
  });

  it('a silent agent: its instance fails ("did not confirm"), stays out of service with ports to be blocked, and counts against MaxErrors', () => {
    const w = new World(ids(4), { agentDelayMs: 1 * S, lbDetectionMs: 2 * S, silent: new Set(['i-01']) });
    // i-01 reports nothing: it is not counted as serving (3 of 4 are), so a floor of 1 leaves room for one at a time.
    const exec = w.run([drainTask({ maxConcurrency: parseMaxConcurrency('1'), capacityFloor: { kind: 'absolute', value: 1 } })], CONFIRM);
    const te = exec.tasks[0]!;
    const i01 = te.invocations.find((i) => i.target === 'i-01')!;
    assert.equal(i01.status, 'FAILED');
    assert.match(i01.detail, /its agent did not confirm it would fail its health answer within 30s \(agent\.confirmTimeout\); left out of service/);
    assert.equal(i01.outOfService, true);
    assert.ok(heldInstances([exec]).outOfService.has('i-01'));
    assert.equal(agentGoal('i-01', 'running', 0, [exec]).ports, 'blocked', 'left out: its agent is asked to block, should it come back');
    assert.equal(te.status, 'FAILED');
    assert.equal(exec.status, 'FAILED');
    assert.deepEqual(te.terminated, ['i-02', 'i-03', 'i-04'], 'MaxErrors 0: the failure stops the roll');
  });

  it('an instance whose agent never reported does not count as serving: the floor holds the roll back and says why', () => {
    const w = new World(ids(3), { agentDelayMs: 1 * S, lbDetectionMs: 1 * S, silent: new Set(['i-03']) });
    const tasks = [drainTask({ maxConcurrency: parseMaxConcurrency('2'), capacityFloor: { kind: 'absolute', value: 2 } })];
    const exec = w.run(tasks, CONFIRM, 20);
    assert.equal(exec.tasks[0]!.invocations.length, 0, 'nothing taken out: only 2 of 3 confirmed serving, the floor is 2');
    assert.match(exec.tasks[0]!.detail, /capacity floor 2: 2 serving, 0 taken out now \(not confirmed serving by their agents: i-03\)/);
  });

  it('a stale report is not taken for the present: an agent silent for longer than agent.confirmTimeout no longer counts as serving', () => {
    const w = new World(ids(3), { agentDelayMs: 1 * S, lbDetectionMs: 1 * S, silent: new Set(['i-03']) });
    w.acks.set('i-03', { instanceId: 'i-03', group: 'web', version: 'l-running-0', ports: 'open', health: 'pass', state: 'running', at: T0 - 31 * S });
    const tasks = [drainTask({ maxConcurrency: parseMaxConcurrency('1'), capacityFloor: { kind: 'absolute', value: 2 } })];
    const exec = w.run(tasks, CONFIRM, 5);
    assert.equal(exec.tasks[0]!.invocations.length, 0);
    assert.match(exec.tasks[0]!.detail, /not confirmed serving by their agents: i-03/);
  });

  it('a lifecycle drain (scale-in) where agents confirm: health fails first, the ports are blocked agent.lbDetection later', () => {
    const since = T0;
    const at = (ms: number) => agentGoal('i-01', 'draining', since, [], { now: since + ms, handshake: CONFIRM });
    assert.deepEqual([at(0).ports, at(0).health], ['open', 'fail']);
    assert.deepEqual([at(3999).ports, at(4000).ports], ['open', 'blocked']);
    assert.notEqual(at(0).version, at(4000).version, 'a new goal: the agent is told again');
    assert.deepEqual(agentGoal('i-01', 'draining', since, [], { now: since, handshake: { ...CONFIRM, confirm: false } }).ports, 'blocked', 'without the handshake: blocked at once, as before');
    assert.deepEqual(agentGoal('i-01', 'running', since, [], { now: since, handshake: CONFIRM }), { ports: 'open', health: 'pass', version: `l-running-${since}` });
  });
});
