import type { Naming, GroupConfig } from '../config/config.js';
import type { FleetRef, Resolved } from '../config/resolve.js';
import type { Settings } from '../config/settings.js';
import { assertTransition, type LifecycleState } from '../domain/lifecycle.js';
import type { ControlKind, EventName, InstanceRecord, ObservedInstance } from '../domain/model.js';
import type { Command, Transition } from './types.js';

/** One managed instance during planning: what was observed and its (evolving) record. */
export interface Member {
  readonly obs: ObservedInstance;
  record: InstanceRecord;
  readonly fleet: FleetRef;
  readonly lighthouse: boolean;
  /** The tier tag value, for tiered workloads. */
  readonly tier: string | undefined;
}

/** A run-event the planner wants sent, before grouping into commands. */
interface PendingEvent {
  readonly instanceId: string;
  readonly event: EventName;
  readonly args: readonly string[];
  readonly reason: string;
}

/**
 * Mutable working state of one planning pass. The planner as a whole stays pure: this object is created per call
 * and only its final values leave. Every state change goes through `move`, which enforces the transition table.
 */
export class PlanContext {
  readonly now: number;
  readonly group: GroupConfig;
  readonly naming: Naming;
  readonly resolved: Resolved;
  readonly settings: Settings;
  readonly members: Member[] = [];
  readonly transitions: Transition[] = [];
  readonly why: string[] = [];
  private readonly commands: Command[] = [];
  /** The same commands by instance: asked for every member (registration repair), so not a scan of all commands. */
  private readonly byInstance = new Map<string, Command[]>();
  private readonly events: PendingEvent[] = [];
  private readonly controls: ReadonlyMap<string, ReadonlySet<ControlKind>>;
  private startsLeft: number;
  private drainsLeft: number;

  private readonly maintenance: ReadonlySet<string>;
  /** Deregistration delay of each target group (ms). */
  readonly deregistrationDelays: ReadonlyMap<string, number>;

  constructor(now: number, group: GroupConfig, naming: Naming, resolved: Resolved, controls: ReadonlyMap<string, ReadonlySet<ControlKind>>, maintenance: ReadonlySet<string> = new Set(), deregistrationDelays: ReadonlyMap<string, number> = new Map()) {
    this.maintenance = maintenance;
    this.deregistrationDelays = deregistrationDelays;
    this.now = now;
    this.group = group;
    this.naming = naming;
    this.resolved = resolved;
    this.settings = resolved.settings;
    this.controls = controls;
    this.startsLeft = resolved.settings.startsPerTick;
    this.drainsLeft = resolved.settings.drainsPerTick;
  }

  /** Held by a maintenance execution: its target-group membership and health are the execution's business. */
  held(instanceId: string): boolean {
    return this.maintenance.has(instanceId);
  }

  has(instanceId: string, control: ControlKind): boolean {
    return this.controls.get(instanceId)?.has(control) ?? false;
  }

  inError(m: Member): boolean {
    return m.record.errorUntil !== undefined && m.record.errorUntil > this.now;
  }

  /** Changes a member's lifecycle state (checked against the table), records why, and queues its state event. */
  move(m: Member, to: LifecycleState, reason: string, patch: Partial<InstanceRecord> = {}): void {
    const from = m.record.state;
    assertTransition(from, to, m.obs.id);
    m.record = { ...m.record, ...patch, state: to, since: this.now, reason };
    this.transitions.push({ instanceId: m.obs.id, from, to, reason, at: this.now });
    // Scripts run inside the guest: only an instance that is up can receive one.
    if (this.settings.event('instance-state-change').enabled && m.obs.power === 'running' && to !== 'stopping' && to !== 'stopped') {
      this.sendEvent(m, `instance-state-change-${to}`, [to, from], `state changed ${from} → ${to}`);
    }
  }

  patch(m: Member, patch: Partial<InstanceRecord>): void {
    m.record = { ...m.record, ...patch };
  }

  /** Takes one start from this tick's budget; false when it is spent. */
  takeStart(): boolean {
    if (this.startsLeft <= 0) return false;
    this.startsLeft--;
    return true;
  }

  takeDrain(): boolean {
    if (this.drainsLeft <= 0) return false;
    this.drainsLeft--;
    return true;
  }

  get drainsRemaining(): number {
    return this.drainsLeft;
  }

  command(c: Command): void {
    this.commands.push(c);
    for (const id of c.instances) {
      const list = this.byInstance.get(id);
      if (list === undefined) this.byInstance.set(id, [c]);
      else list.push(c);
    }
  }

  /** Commands already planned this tick that name `instanceId` (in the order they were planned). */
  commandsFor(instanceId: string): readonly Command[] {
    return this.byInstance.get(instanceId) ?? [];
  }

  /**
   * Queues an event for `m` and marks it sent. A round begins at `roundStart` (the trigger: entering a state, a
   * period change); attempts from before it belong to an earlier round and do not count against its time limit.
   */
  sendEvent(m: Member, event: EventName, args: readonly string[], reason: string, roundStart = this.now): void {
    const prior = m.record.events?.[event];
    const sameRound = prior !== undefined && prior.status !== 'success' && prior.firstSentAt >= roundStart;
    const rec = { status: 'sent' as const, firstSentAt: sameRound ? prior.firstSentAt : this.now, lastSentAt: this.now, attempts: sameRound ? prior.attempts + 1 : 1, args };
    m.record = { ...m.record, events: { ...m.record.events, [event]: rec } };
    this.events.push({ instanceId: m.obs.id, event, args, reason });
  }

  /** Final commands: events grouped by (event, args), every list split into provider calls of `perCall`. */
  finish(): Command[] {
    const out: Command[] = [];
    const size = this.settings.perCall;
    const chunks = <T>(items: readonly T[]): T[][] => {
      const result: T[][] = [];
      for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
      return result;
    };
    // Lists gathered first and each command built once: merging by copying grew quadratically with the instances.
    const merged = new Map<string, { readonly first: Command; readonly instances: string[] }>();
    for (const c of this.commands) {
      const key = c.kind === 'stop' ? `${c.kind}|${c.force}|${c.reason}` : c.kind === 'register' || c.kind === 'deregister' ? `${c.kind}|${c.targetGroup}|${c.reason}` : c.kind === 'check-bypass' ? `${c.kind}|${c.path}|${c.os}` : `${c.kind}|${c.reason}`;
      const prior = merged.get(key);
      if (prior === undefined) merged.set(key, { first: c, instances: [...c.instances] });
      else prior.instances.push(...c.instances);
    }
    const byEvent = new Map<string, PendingEvent[]>();
    for (const e of this.events) {
      const key = e.args.length === 0 ? e.event : JSON.stringify([e.event, e.args]);
      const list = byEvent.get(key);
      if (list === undefined) byEvent.set(key, [e]);
      else list.push(e);
    }
    for (const { first, instances } of merged.values()) for (const part of chunks(instances)) out.push({ ...first, instances: part });
    for (const list of byEvent.values()) {
      const first = list[0];
      if (first === undefined) continue;
      for (const part of chunks(list)) out.push({ kind: 'run-event', event: first.event, args: first.args, instances: part.map((e) => e.instanceId), reason: first.reason });
    }
    return out;
  }
}
