import type { FleetConfig, GroupConfig, Naming } from '../config/config.js';
import type { Resolved } from '../config/resolve.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import type { BypassResult, Control, EventName, EventResult, InstanceRecord, ObservedInstance, WorkloadRecord } from '../domain/model.js';

/** What the planner asks the executor to do: plain values, each with the reason a person can read. */
export type Command =
  | { readonly kind: 'start'; readonly instances: readonly string[]; readonly reason: string }
  | { readonly kind: 'stop'; readonly instances: readonly string[]; readonly force: boolean; readonly reason: string }
  | { readonly kind: 'deregister'; readonly targetGroup: string; readonly instances: readonly string[]; readonly reason: string }
  | { readonly kind: 'register'; readonly targetGroup: string; readonly instances: readonly string[]; readonly reason: string }
  | { readonly kind: 'run-event'; readonly event: EventName; readonly args: readonly string[]; readonly instances: readonly string[]; readonly reason: string }
  | { readonly kind: 'check-bypass'; readonly path: string; readonly os: 'linux' | 'windows'; readonly instances: readonly string[]; readonly reason: string };

export interface Transition {
  readonly instanceId: string;
  readonly from: LifecycleState;
  readonly to: LifecycleState;
  readonly reason: string;
  readonly at: number;
}

/** A start or stop the provider refused (reported by the executor, fed to the next tick). */
export interface ActionFailure {
  readonly instanceId: string;
  readonly action: 'start' | 'stop';
  readonly at: number;
  readonly detail: string;
}

export interface BypassCheckResult {
  readonly instanceId: string;
  readonly result: BypassResult;
  readonly at: number;
}

export interface PlanInput {
  readonly config: Pick<FleetConfig, 'naming'>;
  readonly group: GroupConfig;
  readonly resolved: Resolved;
  /** Instances carrying this group's tag (terminated ones included; they are dropped). */
  readonly instances: readonly ObservedInstance[];
  readonly records: ReadonlyMap<string, InstanceRecord>;
  readonly workload?: WorkloadRecord | undefined;
  readonly controls: readonly Control[];
  readonly eventResults: readonly EventResult[];
  readonly bypassResults: readonly BypassCheckResult[];
  readonly failures: readonly ActionFailure[];
  /** Instances a maintenance execution holds (out of service, or being worked on): never stopped, drained or re-registered. */
  readonly maintenance?: ReadonlySet<string>;
  /** Instances whose tags cannot be used (see inspect.ts): left alone, with why. */
  readonly quarantined?: ReadonlyMap<string, string>;
  /** Deregistration delay of each target group (ms), as the load balancer reports it: a drain lasts at least this. */
  readonly deregistrationDelays?: ReadonlyMap<string, number>;
  readonly now: number;
}

export interface Plan {
  readonly group: string;
  readonly now: number;
  readonly commands: readonly Command[];
  readonly transitions: readonly Transition[];
  /** The next record of every instance still managed; records of instances no longer seen are absent. */
  readonly records: readonly InstanceRecord[];
  readonly workload?: WorkloadRecord;
  /** Group-level explanations: targets, blockers, warnings. */
  readonly why: readonly string[];
}

export type { Naming };
