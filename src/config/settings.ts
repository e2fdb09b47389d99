import type { Count } from '../domain/counts.js';
import { InvariantError } from '../domain/errors.js';
import { defaultOf, type EventKey, type KeyValue, type SubfleetState, type WorkloadState } from './keys.js';

/** Typed, read-only view of a group's effective values; anything unset falls back to the registry's default. */
export class Settings {
  private readonly values: ReadonlyMap<string, KeyValue>;
  /** Defaults looked up once: the planner asks for the same keys for every instance. */
  private readonly defaults = new Map<string, KeyValue>();
  /** Event and lifecycle settings, read per instance by the planner: built once per key, not once per call. */
  private readonly events = new Map<EventKey, { readonly enabled: boolean; readonly timeLimitMs: number }>();
  private readonly lifecycles = new Map<string, number>();

  constructor(values: ReadonlyMap<string, KeyValue>) {
    this.values = values;
  }

  raw(key: string): KeyValue {
    if (this.values.has(key)) return this.values.get(key) ?? null;
    const known = this.defaults.get(key);
    if (known !== undefined) return known;
    const fallback = defaultOf(key);
    if (fallback === undefined) throw new InvariantError(`no such setting: ${key}`);
    this.defaults.set(key, fallback);
    return fallback;
  }

  private count(key: string): Count {
    const v = this.raw(key);
    if (v === null || typeof v !== 'object') throw new InvariantError(`${key} is not a count`);
    return v;
  }
  private num(key: string): number {
    const v = this.raw(key);
    if (typeof v !== 'number') throw new InvariantError(`${key} is not a number`);
    return v;
  }
  private bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== 'boolean') throw new InvariantError(`${key} is not a boolean`);
    return v;
  }
  private str(key: string): string {
    const v = this.raw(key);
    if (typeof v !== 'string') throw new InvariantError(`${key} is not a string`);
    return v;
  }

  get mainMin(): Count {
    return this.count('fleets.main.min');
  }
  get mainDesired(): Count | null {
    const v = this.raw('fleets.main.desired');
    return v === null ? null : this.count('fleets.main.desired');
  }
  subfleet(name: string): { state: SubfleetState; min: Count; desired: Count } {
    return {
      state: this.str(`fleets.subfleets.${name}.state`) as SubfleetState,
      min: this.count(`fleets.subfleets.${name}.min`),
      desired: this.count(`fleets.subfleets.${name}.desired`),
    };
  }
  get startsPerTick(): number {
    return this.num('caps.startsPerTick');
  }
  get drainsPerTick(): number {
    return this.num('caps.drainsPerTick');
  }
  get perCall(): number {
    return this.num('caps.perCall');
  }
  lifecycle(name: 'warmUp' | 'initializingTimeout' | 'unuseableGrace' | 'issueGrace' | 'drainMinimum' | 'shutdownTimeout' | 'errorBackoff'): number {
    let v = this.lifecycles.get(name);
    if (v === undefined) this.lifecycles.set(name, (v = this.num(`lifecycle.${name}`)));
    return v;
  }
  event(name: EventKey): { readonly enabled: boolean; readonly timeLimitMs: number } {
    let v = this.events.get(name);
    if (v === undefined) this.events.set(name, (v = { enabled: this.bool(`events.${name}.enabled`), timeLimitMs: this.num(`events.${name}.timeLimit`) }));
    return v;
  }
  get scriptTimeoutMs(): number {
    return this.num('events.scriptTimeout');
  }
  /** The drain handshake (docs/agent.md#drain-handshake). */
  get handshake(): { confirm: boolean; confirmTimeoutMs: number; lbDetectionMs: number; pollPeriodMs: number } {
    return { confirm: this.bool('agent.confirm'), confirmTimeoutMs: this.num('agent.confirmTimeout'), lbDetectionMs: this.num('agent.lbDetection'), pollPeriodMs: this.num('agent.pollPeriod') };
  }
  get startAheadMs(): number {
    return this.num('maintenance.startAhead');
  }
  get forceSubfleetsRunning(): boolean {
    return this.bool('maintenance.forceSubfleetsRunning');
  }
  get workloadState(): WorkloadState {
    return this.str('workload.state') as WorkloadState;
  }
  get killSwitch(): boolean {
    return this.bool('workload.killSwitch');
  }
}
