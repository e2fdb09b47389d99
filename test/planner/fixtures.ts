/** Builders and a tiny deterministic world for planner scenarios (given / when / then). */
import type { FleetConfig, GroupConfig, WindowDecl } from '../../src/config/config.js';
import { parseConfig } from '../../src/config/load.js';
import { type Override, resolve } from '../../src/config/resolve.js';
import type { LifecycleState } from '../../src/domain/lifecycle.js';
import type { BypassResult, Control, EventName, EventResult, InstanceRecord, ObservedInstance, PowerState, ProviderHealth, TargetHealth, WorkloadRecord } from '../../src/domain/model.js';
import { plan } from '../../src/planner/plan.js';
import type { ActionFailure, BypassCheckResult, Command, Plan } from '../../src/planner/types.js';

export const T0 = Date.parse('2026-06-01T00:00:00Z'); // a Monday
export const SEC = 1000;
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const TG = 'tg-web';

/** A one-group configuration named `web` from a partial group document (validated like a real file). */
export function groupConfig(group: Record<string, unknown> = {}, top: Record<string, unknown> = {}): { config: FleetConfig; group: GroupConfig } {
  const config = parseConfig({ ...top, groups: [{ name: 'web', ...group }] });
  const g = config.groups[0];
  if (!g) throw new Error('no group');
  return { config, group: g };
}

export interface InstanceOpts {
  power?: PowerState;
  zone?: string;
  type?: string;
  health?: ProviderHealth;
  targets?: Record<string, TargetHealth>;
  tags?: Record<string, string>;
  subfleet?: string;
  lighthouse?: boolean;
  tier?: string;
}

export function instance(id: string, o: InstanceOpts = {}): ObservedInstance {
  const power = o.power ?? 'stopped';
  const tags: Record<string, string> = { 'fleetwarden:group-name': 'web', ...o.tags };
  if (o.subfleet !== undefined) tags['fleetwarden:subfleet-name'] = o.subfleet;
  if (o.lighthouse === true) tags['fleetwarden:lighthouse'] = 'true';
  if (o.tier !== undefined) tags['Role'] = o.tier;
  return {
    id,
    tags,
    zone: o.zone ?? 'eu-west-1a',
    instanceType: o.type ?? 't3.large',
    power,
    health: o.health ?? (power === 'running' ? 'ok' : 'unknown'),
    targets: o.targets ?? { [TG]: power === 'running' ? 'healthy' : 'unused' },
  };
}

/** `n` instances `i-<prefix>1..n` spread over zones a, b, c. */
export function instances(n: number, o: InstanceOpts = {}, prefix = ''): ObservedInstance[] {
  return Array.from({ length: n }, (_, i) => instance(`i-${prefix}${i + 1}`, { zone: `eu-west-1${'abc'[i % 3] ?? 'a'}`, ...o }));
}

export function record(id: string, state: LifecycleState, since: number, extra: Partial<InstanceRecord> = {}): InstanceRecord {
  return { instanceId: id, group: 'web', state, since, reason: 'given', ...extra };
}

export type Responder<T> = (instanceId: string, now: number) => T | undefined;

/**
 * A world that carries out plans the way a cloud would, one tick at a time: a started instance is `pending`, then
 * running and healthy on the next tick (registered targets go `initial` → `healthy`); a stop takes effect at once;
 * a deregistration shows `draining` for one tick, then the target is gone. Events and bypass checks are answered
 * by responders (undefined = no answer yet).
 */
export class World {
  now: number;
  readonly config: FleetConfig;
  readonly group: GroupConfig;
  readonly instances = new Map<string, ObservedInstance>();
  readonly records = new Map<string, InstanceRecord>();
  workload: WorkloadRecord | undefined;
  controls: Control[] = [];
  overrides: Override[] = [];
  extraWindows: WindowDecl[] = [];
  storeValues: Record<string, unknown> = {};
  /** Deregistration delay of each target group, as the load balancer reports it. */
  deregistrationDelays = new Map<string, number>();
  onEvent: Responder<boolean> = () => true;
  onBypass: Responder<BypassResult> = () => 'absent';
  failStart = new Set<string>();
  /** Instances that ignore stop calls (stuck), as a real cloud sometimes does. */
  stuck = new Set<string>();
  /** Provider health an instance has once booted (default ok): keeps chosen ones from ever becoming ready. */
  bootHealth: (instanceId: string) => ProviderHealth = () => 'ok';
  readonly plans: Plan[] = [];
  private eventResults: EventResult[] = [];
  private bypassResults: BypassCheckResult[] = [];
  private failures: ActionFailure[] = [];
  private readonly settling: (() => void)[] = [];

  constructor(group: Record<string, unknown>, list: readonly ObservedInstance[], now = T0, top: Record<string, unknown> = {}) {
    const built = groupConfig(group, top);
    this.config = built.config;
    this.group = built.group;
    this.now = now;
    for (const i of list) this.instances.set(i.id, i);
  }

  set(id: string, patch: Partial<ObservedInstance>): void {
    const cur = this.instances.get(id);
    if (!cur) throw new Error(`no instance ${id}`);
    this.instances.set(id, { ...cur, ...patch });
  }

  get(id: string): ObservedInstance {
    const cur = this.instances.get(id);
    if (!cur) throw new Error(`no instance ${id}`);
    return cur;
  }

  state(id: string): LifecycleState | undefined {
    return this.records.get(id)?.state;
  }

  states(): Record<string, LifecycleState | undefined> {
    return Object.fromEntries([...this.instances.keys()].map((id) => [id, this.state(id)]));
  }

  count(state: LifecycleState): number {
    return [...this.records.values()].filter((r) => r.state === state).length;
  }

  /** One tick: the world settles what earlier commands started, then the planner runs and its commands apply. */
  tick(advanceMs = 0): Plan {
    this.now += advanceMs;
    for (const s of this.settling.splice(0)) s();
    const subfleets = [...new Set([...this.instances.values()].flatMap((i) => i.tags['fleetwarden:subfleet-name'] ?? []))];
    const resolved = resolve({ group: this.group, now: this.now, subfleets, extraWindows: this.extraWindows, overrides: this.overrides, storeValues: this.storeValues as never });
    const p = plan({
      config: this.config,
      group: this.group,
      resolved,
      instances: [...this.instances.values()],
      records: this.records,
      workload: this.workload,
      controls: this.controls,
      eventResults: this.eventResults.splice(0),
      bypassResults: this.bypassResults.splice(0),
      failures: this.failures.splice(0),
      deregistrationDelays: this.deregistrationDelays,
      now: this.now,
    });
    this.records.clear();
    for (const r of p.records) this.records.set(r.instanceId, r);
    this.workload = p.workload;
    for (const c of p.commands) this.apply(c);
    this.plans.push(p);
    return p;
  }

  /** Ticks every `stepMs` until `until` (inclusive of the last step that does not pass it). */
  run(durationMs: number, stepMs = MIN): Plan[] {
    const out: Plan[] = [];
    const end = this.now + durationMs;
    while (this.now + stepMs <= end) out.push(this.tick(stepMs));
    return out;
  }

  private apply(c: Command): void {
    switch (c.kind) {
      case 'start':
        for (const id of c.instances) {
          if (this.failStart.has(id)) {
            this.failures.push({ instanceId: id, action: 'start', at: this.now, detail: 'InsufficientInstanceCapacity' });
            continue;
          }
          this.set(id, { power: 'pending', health: 'initializing' });
          this.settling.push(() => {
            const targets = Object.fromEntries(Object.entries(this.get(id).targets).map(([tg, h]) => [tg, h === 'unused' ? 'healthy' : h === 'initial' ? 'healthy' : h]));
            this.set(id, { power: 'running', health: this.bootHealth(id), targets });
          });
        }
        return;
      case 'stop':
        for (const id of c.instances) {
          if (this.stuck.has(id)) continue;
          const targets = Object.fromEntries(Object.entries(this.get(id).targets).map(([tg]) => [tg, 'unused' as const]));
          this.set(id, { power: 'stopped', health: 'unknown', targets });
        }
        return;
      case 'deregister':
        for (const id of c.instances) {
          this.set(id, { targets: { ...this.get(id).targets, [c.targetGroup]: 'draining' } });
          this.settling.push(() => {
            const rest = Object.fromEntries(Object.entries(this.get(id).targets).filter(([tg]) => tg !== c.targetGroup));
            this.set(id, { targets: rest });
          });
        }
        return;
      case 'register':
        for (const id of c.instances) this.set(id, { targets: { ...this.get(id).targets, [c.targetGroup]: this.get(id).power === 'running' ? 'initial' : 'unused' } });
        return;
      case 'run-event':
        for (const id of c.instances) {
          const ok = this.onEvent(id, this.now);
          const event: EventName = c.event;
          if (ok !== undefined) this.eventResults.push({ instanceId: id, event, ok, at: this.now });
        }
        return;
      case 'check-bypass':
        for (const id of c.instances) {
          const result = this.onBypass(id, this.now);
          if (result !== undefined) this.bypassResults.push({ instanceId: id, result, at: this.now });
        }
        return;
    }
  }
}

/** Ids named in commands of `kind` across plans. */
export function commanded(plans: Plan | readonly Plan[], kind: Command['kind'], filter: (c: Command) => boolean = () => true): string[] {
  const list: readonly Plan[] = Array.isArray(plans) ? plans : [plans as Plan];
  return list.flatMap((p) => p.commands.filter((c) => c.kind === kind && filter(c)).flatMap((c) => c.instances));
}

export function events(plans: Plan | readonly Plan[], event: EventName): string[] {
  return commanded(plans, 'run-event', (c) => c.kind === 'run-event' && c.event === event);
}

export function whyText(plans: Plan | readonly Plan[]): string {
  const list: readonly Plan[] = Array.isArray(plans) ? plans : [plans as Plan];
  return list.flatMap((p) => [...p.why, ...p.transitions.map((t) => `${t.instanceId} ${t.from}→${t.to}: ${t.reason}`)]).join('\n');
}
