import type { HealthGoal, PortsGoal } from '../domain/agent-ack.js';
import type { InvocationStatus, TaskStatus } from './dispatch.js';

/**
 * Maintenance executions as they are stored: a window execution (one period of one window of one group) holds its
 * task executions, each holding one invocation per target it dispatched. Statuses:
 * docs/maintenance.md#execution-statuses.
 */

/** Where an invocation of a `drain` task stands; a plain task goes waiting → running → done. */
export const PHASES = ['draining', 'probing', 'running', 'checking', 'returning', 'done'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * The steps of the drain handshake (docs/agent.md#drain-handshake), within `draining` and `returning`, where the
 * group's agents confirm (`agent.confirm`): taking out — `health` (the agent fails its health answer and the load
 * balancer stops routing), `block` (new connections refused), `inflight` (in-flight work ends); putting back —
 * `unblock`, `unfail` (health passes again), `register` (back in the target groups, healthy, settled).
 * Without confirmation a take-out goes straight to `inflight` and a put-back to `register`, as before.
 */
export const STEPS = ['health', 'block', 'inflight', 'unblock', 'unfail', 'register'] as const;
export type Step = (typeof STEPS)[number];

/** What the instance's agent is asked to apply for this invocation, since when. */
export interface InvocationGoal {
  readonly ports: PortsGoal;
  readonly health: HealthGoal;
  readonly since: number;
}

export interface Invocation {
  readonly target: string;
  readonly status: InvocationStatus;
  readonly phase: Phase;
  readonly phaseSince: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  /** Task script runs sent (a run that asked for a reboot is run again by the runner: still one here). */
  readonly runs: number;
  /** The command in flight for this target (task, health check or shutdown probe), by id. */
  readonly pending?: { readonly id: string; readonly kind: 'task' | 'health' | 'probe'; readonly sentAt: number; readonly unsent?: boolean } | undefined;
  readonly exitCode?: number | null;
  /** The first 2500 characters of the task's output. */
  readonly output?: string;
  /** The object-store key of the full output. */
  readonly outputKey?: string;
  /** Target groups it was taken out of (drain): where it goes back. */
  readonly deregisteredFrom?: readonly string[];
  /** Taken out of service and not yet back (a failed target stays out, reported). */
  readonly outOfService: boolean;
  readonly healthChecks?: number;
  /** When a cancel of its task script was sent (cutoff with `cancel`, or the execution cancelled). */
  readonly cancelSentAt?: number;
  /** What the instance's agent is to apply (drain tasks); absent on executions stored before the handshake. */
  readonly agent?: InvocationGoal;
  /** The handshake step within `draining` / `returning` (absent: `inflight` / `register`). */
  readonly step?: Step | undefined;
  /** When the agent confirmed the current step's goal (the load balancer's detection time counts from it). */
  readonly confirmedAt?: number | undefined;
  readonly detail: string;
}

export interface TaskExecution {
  readonly name: string;
  readonly priority: number;
  readonly status: TaskStatus | 'CANCELLED';
  readonly startedAt?: number;
  readonly endedAt?: number;
  /** Targets, in dispatch order, fixed when the task starts. */
  readonly targets: readonly string[];
  readonly invocations: readonly Invocation[];
  /** Targets never dispatched: the error budget was spent, the cutoff passed with `cancel`, or the execution was cancelled. */
  readonly terminated: readonly string[];
  /** Instances the task did not run on because an earlier task of the execution failed there (absent: none). */
  readonly skipped?: readonly string[];
  readonly detail: string;
}

export const EXECUTION_STATUSES = ['IN_PROGRESS', 'SUCCESS', 'FAILED', 'TIMED_OUT', 'CANCELLED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export interface WindowExecution {
  /** `<group>/<window>/<period start, ISO>`: one execution per period, found again after a restart. */
  readonly id: string;
  readonly group: string;
  readonly window: string;
  /** The window's description, as configured when the execution began. */
  readonly description?: string;
  readonly start: number;
  readonly end: number;
  readonly lastTaskStart: number;
  readonly status: ExecutionStatus;
  readonly startedAt: number;
  readonly endedAt?: number;
  /** An operator's cancel, once the engine took it: nothing new starts, running scripts are cancelled. */
  readonly cancel?: CancelRequest;
  readonly tasks: readonly TaskExecution[];
}

/** An operator's request to cancel a running execution (`executions cancel`), kept in the store until it is taken. */
export interface CancelRequest {
  readonly execution: string;
  readonly group: string;
  /** Who asked: `api <token>` or `cli <user>@<host>`. */
  readonly by: string;
  readonly reason: string;
  readonly at: number;
}

/** What a runner reports for one target of a task or health-check command. */
export interface TaskRunResult {
  readonly commandId: string;
  readonly instanceId: string;
  readonly status: 'success' | 'failed' | 'timed-out' | 'undeliverable' | 'cancelled';
  readonly exitCode: number | null;
  readonly output: string;
  readonly at: number;
  /** Reboots the script asked for (exit 194) and the runner carried out before the final run. */
  readonly reboots: number;
}

export const OUTPUT_INLINE_CHARS = 2500;

export function isFinished(s: InvocationStatus): boolean {
  return s !== 'PENDING' && s !== 'IN_PROGRESS';
}

/** Still running, or holding an instance out of service: loaded with its group every tick. */
export function isOpen(e: WindowExecution): boolean {
  return e.status === 'IN_PROGRESS' || e.tasks.some((t) => t.invocations.some((i) => i.outOfService || i.phase === 'returning'));
}
