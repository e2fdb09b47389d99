import { LIFECYCLE_STATES, type LifecycleState } from './lifecycle.js';

/** What the provider reports of an instance's power, in Fleetwarden's words (adapters map EC2 names onto these). */
export const POWER_STATES = ['pending', 'running', 'stopping', 'stopped', 'terminated'] as const;
export type PowerState = (typeof POWER_STATES)[number];

/** A load balancer's view of one target. */
export const TARGET_HEALTH = ['initial', 'healthy', 'unhealthy', 'draining', 'unused', 'unavailable'] as const;
export type TargetHealth = (typeof TARGET_HEALTH)[number];

/** The provider's own health checks: `impaired` is an issue; `initializing` means not yet known. */
export const PROVIDER_HEALTH = ['ok', 'impaired', 'initializing', 'unknown'] as const;
export type ProviderHealth = (typeof PROVIDER_HEALTH)[number];

export interface ObservedInstance {
  readonly id: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly zone: string;
  readonly instanceType: string;
  readonly power: PowerState;
  readonly health: ProviderHealth;
  /** Health in each managed target group the instance belongs to, by target group id. */
  readonly targets: Readonly<Record<string, TargetHealth>>;
}

/** In-instance events (seed 000), plus one state-change event per lifecycle state. */
export const EVENTS = ['enter-maintenance-window-period', 'exit-maintenance-window-period', 'instance-ready-for-operation', 'instance-ready-for-shutdown'] as const;
export type EventName = (typeof EVENTS)[number] | `instance-state-change-${LifecycleState}`;

/** Every event name, closed: what an agent accepts from the API (anything else names no script it may run). */
export const EVENT_NAMES: readonly EventName[] = [...EVENTS, ...LIFECYCLE_STATES.map((s) => `instance-state-change-${s}` as const)];

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value);
}

export type EventStatus = 'sent' | 'success' | 'failed';

/** Where one event stands for one instance. */
export interface EventRecord {
  readonly status: EventStatus;
  /** First send of the current round (a round ends on success, or when the trigger changes). */
  readonly firstSentAt: number;
  readonly lastSentAt: number;
  readonly attempts: number;
  /** Arguments of the script, resent unchanged on retries. */
  readonly args?: readonly string[];
  readonly detail?: string;
}

/** The result of an event delivery, as the command runner reports it. */
export interface EventResult {
  readonly instanceId: string;
  readonly event: EventName;
  readonly ok: boolean;
  readonly at: number;
  readonly detail?: string;
}

/** The in-guest bypass check of a tier stop (seed 003): present = do not stop; unknown = check failed. */
export type BypassResult = 'present' | 'absent' | 'unknown';

/** Everything Fleetwarden remembers about one instance between ticks. */
export interface InstanceRecord {
  readonly instanceId: string;
  readonly group: string;
  readonly state: LifecycleState;
  readonly since: number;
  readonly reason: string;
  /** After a failed start or stop: not retried before this instant. */
  readonly errorUntil?: number | undefined;
  readonly lastError?: string | undefined;
  /** Why the current drain began: scale-in drains may be cancelled, issue drains may not. */
  readonly drainCause?: 'scale-in' | 'subfleet-stopped' | 'tier-stop' | 'issue' | 'unuseable' | 'manual' | undefined;
  /** First tick an issue (unhealthy target, impaired) was seen; cleared when it goes away. */
  readonly issueSince?: number | undefined;
  readonly issue?: string | undefined;
  /** Window period type the instance was last told about (enter/exit events). */
  readonly notifiedPeriod?: 'in-window' | 'out-of-window' | undefined;
  /** A period change being notified: the round of its enter/exit event began at `since`. */
  readonly periodNotice?: { readonly type: 'in-window' | 'out-of-window'; readonly since: number } | undefined;
  readonly events?: Readonly<Partial<Record<EventName, EventRecord>>> | undefined;
  readonly bypass?: { readonly result: BypassResult; readonly at: number } | undefined;
  /** A bypass check sent and not yet answered. */
  readonly bypassCheckSentAt?: number | undefined;
  /** Target groups the instance was deregistered from by its last drain: where it is registered again. */
  readonly deregisteredFrom?: readonly string[] | undefined;
  /** When a stop was last re-sent for an instance stuck in stopping. */
  readonly stopSentAt?: number | undefined;
  /** Set when the last stop was forced (shutdown probe never succeeded). */
  readonly forcedStop?: boolean | undefined;
  /** The tier the instance was last seen in (tiered workloads): what `workload start|stop` plans by. */
  readonly tier?: string | undefined;
}

/** Progress of a tiered workload's start or stop sequence, kept between ticks. */
export interface WorkloadRecord {
  readonly group: string;
  readonly direction: 'start' | 'stop' | null;
  /** When the current direction began: bypass checks older than this are stale. */
  readonly since: number;
  /** When each tier's step began in the current direction (readiness timeouts count from it). */
  readonly tierStartedAt: Readonly<Record<string, number>>;
  /** Set when a readiness timeout aborted the sequence: no further tier is started until the direction changes. */
  /** `request`: what had set workload.state (layer, source, expiry); set anew, the start is tried again. */
  readonly abortedAt?: { readonly tier: string; readonly at: number; readonly reason: string; readonly request?: string };
}

/** Run-time controls set through the API/CLI, each with an expiry and a reason. */
/** `return-to-service`: an instance a failed maintenance task left out of service is put back (the operator's call). */
export const CONTROLS = ['unstoppable', 'unstartable', 'excluded', 'return-to-service'] as const;
export type ControlKind = (typeof CONTROLS)[number];

export interface Control {
  readonly instanceId: string;
  readonly kind: ControlKind;
  readonly until: number;
  readonly reason: string;
}
