/**
 * Advancing one window execution by one tick, as a pure function (docs/development.md, rule 1): given what was observed and which
 * command results arrived, it returns the next execution, the actions to carry out (take out of service, run a
 * script, put back) and the outputs to keep. Tasks run by priority (docs/maintenance.md#dispatch, via dispatch.ts);
 * a `drain` task rolls through its targets in batches of MaxConcurrency (docs/maintenance.md#rolling-phases, seed 004):
 * take out → wait for in-flight work (deregistration, drain time, ready-for-shutdown probe) → run → health check
 * → put back → wait until healthy, never below the capacity floor, and a failed target stays out, reported.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_HEALTH_CHECK_TIMEOUT_MS, describeDocument, type DocumentCall, type TaskDecl } from '../config/config.js';
import { resolveCount } from '../domain/counts.js';
import { formatDuration } from '../domain/durations.js';
import type { TargetHealth } from '../domain/model.js';
import { allowedErrors, countsAsError, dispatchStep, type InvocationStatus, runnablePriority, type TaskStatus } from './dispatch.js';
import { type AgentAck, type AgentGoal, confirms, reportsServing } from '../domain/agent-ack.js';
import { type CancelRequest, type ExecutionStatus, type Invocation, type InvocationGoal, isFinished, OUTPUT_INLINE_CHARS, type Step as MaintenanceStep, type TaskExecution, type TaskRunResult, type WindowExecution } from './model.js';

/** One instance as the engine needs it. */
export interface TargetView {
  readonly id: string;
  /** Powered on and not being stopped by the lifecycle. */
  readonly running: boolean;
  readonly healthy: boolean;
  readonly targets: Readonly<Record<string, TargetHealth>>;
  readonly tags: Readonly<Record<string, string>>;
  /** `main`, or the subfleet's name. */
  readonly fleet: string;
}

export type MaintenanceAction =
  | { readonly kind: 'take-out'; readonly task: string; readonly instanceId: string; readonly targetGroups: readonly string[]; readonly reason: string }
  | { readonly kind: 'put-back'; readonly task: string; readonly instanceId: string; readonly targetGroups: readonly string[]; readonly reason: string }
  | {
      readonly kind: 'run-script';
      readonly task: string;
      readonly commandId: string;
      readonly instanceId: string;
      readonly purpose: 'task' | 'health';
      /** The shell script, or a document call's description (`AWS-RunPatchBaseline Operation=Scan`). */
      readonly script: string;
      /** An SSM document to run instead of the script (SSM Run Command; the simulator matches `script`). */
      readonly document?: DocumentCall;
      /** The task's own SSM output location. */
      readonly output?: { readonly bucket: string; readonly prefix: string };
      readonly timeoutMs: number;
      readonly mayRerun: boolean;
      readonly reason: string;
    }
  | { readonly kind: 'cancel-script'; readonly task: string; readonly commandId: string; readonly instanceId: string; readonly reason: string }
  | { readonly kind: 'probe'; readonly task: string; readonly instanceId: string; readonly reason: string };

export interface AdvanceInput {
  readonly exec: WindowExecution;
  readonly tasks: readonly TaskDecl[];
  /** Running instances of the group that the window covers, by id. */
  readonly instances: ReadonlyMap<string, TargetView>;
  /** Script results that arrived, by `<command id>/<instance id>`. */
  readonly results: ReadonlyMap<string, TaskRunResult>;
  /** Ready-for-shutdown probe outcomes that arrived, by instance (only asked when `probeTimeLimitMs` is set). */
  readonly probes: ReadonlyMap<string, boolean>;
  /** How long a drained target waits for in-flight work at least (the group's drain minimum). */
  readonly drainWaitMs: number;
  /** Deregistration delay of each target group (ms): a drained target also waits that long for in-flight requests. */
  readonly deregistrationDelays?: ReadonlyMap<string, number>;
  /** The ready-for-shutdown probe's time limit, or null when the event is off. */
  readonly probeTimeLimitMs: number | null;
  /** Instances out of service for other executions (they count as not serving). */
  readonly outElsewhere: ReadonlySet<string>;
  /** Instances an operator asked to put back (control `return-to-service`) after a failure left them out. */
  readonly returnToService?: ReadonlySet<string>;
  /** The window's choice when a task exceeds its error budget [abort]. */
  readonly onTaskFailure?: 'abort' | 'continue';
  /** An operator's cancel of this execution that arrived (taken once; the execution then carries it). */
  readonly cancel?: CancelRequest | null;
  /** The group's drain handshake (absent: the agents are not waited for). */
  readonly handshake?: Handshake;
  /** The agents' last acknowledgements, by instance. */
  readonly acks?: ReadonlyMap<string, AgentAck>;
  readonly now: number;
}

/** The drain handshake as a group configures it (`agent.*` settings; docs/agent.md#drain-handshake). */
export interface Handshake {
  /** Every goal is confirmed by the instance's agent before the instance moves on; false: agents are not waited for. */
  readonly confirm: boolean;
  /** A goal not confirmed within this is a failure of that instance (left out of service). */
  readonly confirmTimeoutMs: number;
  /** Without a target group: how long the load balancer takes to see a changed health answer. */
  readonly lbDetectionMs: number;
}

export const NO_HANDSHAKE: Handshake = { confirm: false, confirmTimeoutMs: 0, lbDetectionMs: 0 };

export interface Advance {
  readonly exec: WindowExecution;
  readonly actions: readonly MaintenanceAction[];
  /** Full outputs to keep in the object store. */
  readonly outputs: readonly { readonly key: string; readonly body: string }[];
  /** One line per noteworthy step, for the history. */
  /** `status`: a task's or the execution's final status (events out publish it); `task`: whose. */
  readonly notes: readonly { readonly instanceId: string | null; readonly summary: string; readonly status?: string; readonly task?: string }[];
}

/** A command has this much beyond its own time limit to report before it counts as lost. */
const LOST_AFTER_MS = 10 * 60_000;
/** Between two failed health checks. */
const HEALTH_RETRY_MS = 10_000;
/** A cancelled script whose runner has not confirmed the cancel within this is given up on (left out of service). */
const CANCEL_CONFIRM_MS = 10 * 60_000;

export function commandId(execId: string, task: string, target: string, purpose: string, n: number): string {
  return `mw-${createHash('sha256').update(`${execId}\u0000${task}\u0000${target}\u0000${purpose}\u0000${n}`).digest('hex').slice(0, 32)}`;
}

export function outputKey(exec: WindowExecution, task: string, target: string, run: number): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `executions/${safe(exec.group)}/${safe(exec.window)}/${new Date(exec.start).toISOString().replace(/[:.]/g, '-')}/${safe(task)}/${safe(target)}-${run}.log`;
}

/** Targets of a task among the running instances the window covers: by ids, tags or fleets; sorted. */
export function selectTargets(task: TaskDecl, instances: ReadonlyMap<string, TargetView>): string[] {
  const t = task.targets;
  return [...instances.values()]
    .filter((i) => i.running)
    .filter((i) => t === null || ((t.ids === undefined || t.ids.includes(i.id)) && (t.tags === undefined || Object.entries(t.tags).every(([k, v]) => i.tags[k] === v)) && (t.fleets === undefined || t.fleets.includes(i.fleet))))
    .map((i) => i.id)
    .sort();
}

/**
 * Takes new work: running, healthy, in service, healthy in every target group — and, where the group's agents
 * confirm, reported by its agent with ports open and health passing (docs/agent.md#drain-handshake).
 */
function serving(s: Step, i: TargetView | undefined, out: ReadonlySet<string>): boolean {
  if (i === undefined || !i.running || !i.healthy || out.has(i.id)) return false;
  if (!Object.values(i.targets).every((h) => h === 'healthy')) return false;
  const hs = s.handshake;
  return !hs.confirm || reportsServing(s.input.acks?.get(i.id), s.now, hs.confirmTimeoutMs);
}

class Step {
  readonly actions: MaintenanceAction[] = [];
  readonly outputs: { key: string; body: string }[] = [];
  readonly notes: { instanceId: string | null; summary: string; status?: string; task?: string }[] = [];
  constructor(readonly input: AdvanceInput) {}
  get now(): number {
    return this.input.now;
  }
  get handshake(): Handshake {
    return this.input.handshake ?? NO_HANDSHAKE;
  }
}

/** Why running work is being stopped: an operator's cancel, or the cutoff of a `cancel` task. */
function cancelWhy(exec: WindowExecution): string {
  return exec.cancel === undefined ? 'cutoff passed (cancel)' : `execution cancelled by ${exec.cancel.by}`;
}

function finish(inv: Invocation, status: InvocationStatus, detail: string, now: number, patch: Partial<Invocation> = {}): Invocation {
  return { ...inv, ...patch, status, phase: 'done', phaseSince: now, endedAt: now, pending: undefined, detail };
}

/** The action running a task's script or document (purpose `task`), or its health check. */
function scriptAction(task: TaskDecl, purpose: 'task' | 'health', id: string, instanceId: string, reason: string): MaintenanceAction {
  if (purpose === 'health') return { kind: 'run-script', task: task.name, commandId: id, instanceId, purpose, script: task.healthCheck?.command ?? 'true', timeoutMs: task.healthCheck?.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS, mayRerun: task.rerunOnResume, reason };
  const script = task.command ?? (task.document === null ? 'true' : describeDocument(task.document));
  return { kind: 'run-script', task: task.name, commandId: id, instanceId, purpose, script, ...(task.document === null ? {} : { document: task.document }), ...(task.output === null ? {} : { output: task.output }), timeoutMs: task.timeoutMs, mayRerun: task.rerunOnResume, reason };
}

function sendScript(s: Step, exec: WindowExecution, task: TaskDecl, inv: Invocation, purpose: 'task' | 'health', reason: string): Invocation {
  const n = purpose === 'task' ? inv.runs + 1 : (inv.healthChecks ?? 0) + 1;
  const id = commandId(exec.id, task.name, inv.target, purpose, n);
  s.actions.push(scriptAction(task, purpose, id, inv.target, reason));
  const base = { ...inv, status: 'IN_PROGRESS' as const, pending: { id, kind: purpose, sentAt: s.now } };
  return purpose === 'task' ? { ...base, phase: 'running', phaseSince: s.now, runs: n, detail: `task running (${reason})` } : { ...base, phase: 'checking', healthChecks: n, detail: `health check running (${reason})` };
}

/** A new goal for the instance's agent, from now; the step that waits for it. */
function goal(s: Step, inv: Invocation, ports: InvocationGoal['ports'], health: InvocationGoal['health'], step: MaintenanceStep): Invocation {
  return { ...inv, agent: { ports, health, since: s.now }, step, confirmedAt: undefined };
}

/** The agent's goal of an invocation with its version (what the agent echoes in its acknowledgement). */
export function goalVersion(g: InvocationGoal): string {
  return `m-${g.since}-${g.ports}-${g.health}`;
}

/** Whether the instance's agent confirmed the invocation's current goal, still may, or let its time pass. */
function handshakeState(s: Step, inv: Invocation): 'confirmed' | 'waiting' | 'late' {
  const g = inv.agent;
  if (!s.handshake.confirm || g === undefined) return 'confirmed';
  if (confirms(s.input.acks?.get(inv.target), { ports: g.ports, health: g.health, version: goalVersion(g) })) return 'confirmed';
  return s.now - g.since >= s.handshake.confirmTimeoutMs ? 'late' : 'waiting';
}

/** A confirmation that did not come: a failure of this target, which stays out of service (new connections refused). */
function leftOut(s: Step, task: TaskDecl, inv: Invocation, why: string): Invocation {
  const detail = `${why}; left out of service`;
  s.notes.push({ instanceId: inv.target, summary: `${task.name}: ${detail}` });
  return finish({ ...inv, agent: { ports: 'blocked', health: 'fail', since: s.now }, step: undefined, confirmedAt: undefined }, 'FAILED', detail, s.now, { outOfService: true });
}

/**
 * Load-balancer actions are written ahead: the caller carries them out only after this step's execution is saved,
 * and the next steps repeat them while the target groups do not show them — so a controller killed in between
 * never leaves an instance registered or deregistered without a record saying so. Where the agents confirm, the
 * instance goes back in the reverse order of its take-out: ports open, then health passing, then the target groups.
 */
function putBack(s: Step, task: TaskDecl, inv: Invocation, reason: string): Invocation {
  s.notes.push({ instanceId: inv.target, summary: `${task.name}: put back in service (${reason})` });
  const back = { ...inv, phase: 'returning' as const, phaseSince: s.now, pending: undefined, outOfService: false };
  if (s.handshake.confirm) return { ...goal(s, back, 'open', 'fail', 'unblock'), detail: `${reason}; waiting for the agent to accept new connections again` };
  s.actions.push({ kind: 'put-back', task: task.name, instanceId: inv.target, targetGroups: inv.deregisteredFrom ?? [], reason: `${task.name}: put back (${reason})` });
  return { ...goal(s, back, 'open', 'pass', 'register'), detail: reason };
}

/** After the task script: health check, or straight back. */
function afterTask(s: Step, exec: WindowExecution, task: TaskDecl, inv: Invocation): Invocation {
  if (!task.drain) return finish(inv, 'SUCCESS', 'exit 0', s.now);
  if (task.healthCheck !== null) return sendScript(s, exec, task, { ...inv, phaseSince: s.now }, 'health', 'the task succeeded');
  return putBack(s, task, inv, 'task done: put back in service');
}

/** One invocation in one step: what its phase's handler needs. */
interface Turn {
  readonly s: Step;
  readonly exec: WindowExecution;
  readonly task: TaskDecl;
  readonly inv: Invocation;
  readonly view: TargetView | undefined;
  readonly result: TaskRunResult | undefined;
  /** Running work is to stop (an operator's cancel, or the cutoff of a `cancel` task). */
  readonly cancelNow: boolean;
}

/** Registered and routed to (or about to be) in a target group. */
function registered(view: TargetView | undefined, tg: string): boolean {
  const h = view?.targets[tg];
  return h === 'healthy' || h === 'initial' || h === 'unhealthy';
}

/** One dispatched invocation, one step: repairs first, then its phase's handler. */
function advanceInvocation(s: Step, exec: WindowExecution, task: TaskDecl, inv: Invocation, cancelNow: boolean): Invocation {
  const view = s.input.instances.get(inv.target);
  const result = inv.pending === undefined ? undefined : s.input.results.get(`${inv.pending.id}/${inv.target}`);
  const t: Turn = { s, exec, task, inv, view, result, cancelNow };
  // A script whose sending failed (after retries) is sent again under the same id: the runner drops repeats.
  if (inv.pending?.unsent === true && (inv.phase === 'running' || inv.phase === 'checking')) return resend(t);
  // Taking out and putting back are level-triggered: repeated while the target groups do not show them (a call that
  // failed, or a controller killed between saving and acting, is repaired).
  const stillServing = (inv.deregisteredFrom ?? []).filter((tg) => registered(view, tg));
  if (inv.outOfService && inv.phase !== 'returning' && stillServing.length > 0) s.actions.push({ kind: 'take-out', task: task.name, instanceId: inv.target, targetGroups: stillServing, reason: `${task.name}: deregistered from ${stillServing.join(', ')}` });
  const notBack = (inv.deregisteredFrom ?? []).filter((tg) => view !== undefined && !registered(view, tg));
  if (inv.phase === 'returning' && (inv.step ?? 'register') === 'register' && notBack.length > 0) s.actions.push({ kind: 'put-back', task: task.name, instanceId: inv.target, targetGroups: notBack, reason: `${task.name}: registered in ${notBack.join(', ')}` });
  return PHASE_HANDLERS[inv.phase](t);
}

function resend(t: Turn): Invocation {
  const { s, task, inv } = t;
  const pending = inv.pending as NonNullable<Invocation['pending']>;
  if (t.cancelNow && inv.phase === 'running') {
    // Never delivered: nothing to cancel on the instance.
    const cut = { pending: undefined, detail: 'cancelled before its script was delivered' };
    return inv.outOfService ? { ...putBack(s, task, { ...inv, ...cut }, 'cancelled before the task ran: put back'), status: 'CANCELLED' } : finish(inv, 'CANCELLED', cut.detail, s.now, cut);
  }
  s.actions.push(scriptAction(task, pending.kind === 'health' ? 'health' : 'task', pending.id, inv.target, 'sent again: the last send failed'));
  return { ...inv, pending: { id: pending.id, kind: pending.kind, sentAt: s.now } };
}

const PHASE_HANDLERS: Readonly<Record<Invocation['phase'], (t: Turn) => Invocation>> = {
  draining: onDraining,
  probing: onDraining,
  running: onRunning,
  checking: onChecking,
  returning: onReturning,
  done: onDone,
};

/** Taken out, the task not yet run: the handshake's take-out steps, then in-flight work, then the probe. */
function onDraining(t: Turn): Invocation {
  const { s, exec, task, inv, view } = t;
  const { now, input } = s;
  if (t.cancelNow) {
    s.notes.push({ instanceId: inv.target, summary: `${task.name}: ${cancelWhy(exec)} before the task ran: put back` });
    return { ...putBack(s, task, inv, `${cancelWhy(exec)}: put back without running`), status: 'CANCELLED' };
  }
  if (inv.step === 'health' || inv.step === 'block') return takeOutStep(t);
  if (inv.phase === 'draining') {
    const waited = now - inv.phaseSince;
    const stillIn = (inv.deregisteredFrom ?? []).filter((tg) => view?.targets[tg] !== undefined && view.targets[tg] !== 'unused');
    const drainWait = Math.max(input.drainWaitMs, ...(inv.deregisteredFrom ?? []).map((tg) => input.deregistrationDelays?.get(tg) ?? 0));
    if (waited < drainWait || stillIn.length > 0) return { ...inv, detail: `draining: ${stillIn.length > 0 ? `still in ${stillIn.join(', ')}` : `${formatDuration(drainWait - waited)} of drain time left`}` };
    if (input.probeTimeLimitMs !== null) {
      s.actions.push({ kind: 'probe', task: task.name, instanceId: inv.target, reason: `${task.name}: in-flight work drained; ready-for-shutdown probe` });
      return { ...inv, phase: 'probing', phaseSince: now, pending: { id: 'probe', kind: 'probe', sentAt: now }, detail: 'ready-for-shutdown probe sent' };
    }
    return sendScript(s, exec, task, inv, 'task', 'drained');
  }
  const ok = input.probes.get(inv.target);
  if (ok === true) return sendScript(s, exec, task, inv, 'task', 'drained, ready for shutdown');
  if (now - inv.phaseSince >= (input.probeTimeLimitMs ?? 0)) return sendScript(s, exec, task, inv, 'task', `drained; the ready-for-shutdown probe did not pass within ${formatDuration(input.probeTimeLimitMs ?? 0)}`);
  if (ok === false || inv.pending?.unsent === true) {
    s.actions.push({ kind: 'probe', task: task.name, instanceId: inv.target, reason: `${task.name}: ready-for-shutdown probe ${ok === false ? 'failed' : 'not sent'}: asked again` });
    return { ...inv, pending: { id: 'probe', kind: 'probe', sentAt: inv.pending?.sentAt ?? now } };
  }
  return inv;
}

/**
 * Taking out, in the order a load balancer expects: the agent fails its health answer (confirmed), the load balancer
 * stops routing to the instance (its target groups say so, or — with none — the configured detection time passes),
 * then the agent refuses new connections (confirmed); in-flight work is waited for from then on.
 */
function takeOutStep(t: Turn): Invocation {
  const { s, task, inv, view } = t;
  const hs = s.handshake;
  const what = inv.step === 'health' ? 'fail its health answer' : 'refuse new connections';
  const state = handshakeState(s, inv);
  if (state === 'late') return leftOut(s, task, inv, `its agent did not confirm it would ${what} within ${formatDuration(hs.confirmTimeoutMs)} (agent.confirmTimeout)`);
  if (state === 'waiting') return { ...inv, detail: `taking out: waiting for the agent to ${what}` };
  const confirmedAt = inv.confirmedAt ?? s.now;
  if (inv.confirmedAt === undefined) s.notes.push({ instanceId: inv.target, summary: `${task.name}: its agent confirmed it ${inv.step === 'health' ? 'fails its health answer' : 'refuses new connections'} (${formatDuration(s.now - (inv.agent?.since ?? s.now))} after asked)` });
  if (inv.step === 'block') return { ...inv, step: 'inflight', phaseSince: s.now, confirmedAt, detail: 'draining: new connections refused (confirmed by the agent)' };
  const routing = (inv.deregisteredFrom ?? []).filter((tg) => registered(view, tg));
  const noHealthAnswer = s.input.acks?.get(inv.target)?.health === 'none';
  const detectedAt = (inv.deregisteredFrom ?? []).length === 0 && !noHealthAnswer ? confirmedAt + hs.lbDetectionMs : confirmedAt;
  if (routing.length > 0) return { ...inv, confirmedAt, detail: `taking out: ${routing.join(', ')} still route to it` };
  if (s.now < detectedAt) return { ...inv, confirmedAt, detail: `taking out: ${formatDuration(detectedAt - s.now)} left for the load balancer to see the failing health answer (agent.lbDetection)` };
  return { ...goal(s, inv, 'blocked', 'fail', 'block'), detail: 'taking out: waiting for the agent to refuse new connections' };
}

function onRunning(t: Turn): Invocation {
  const { s, exec, task, inv, result } = t;
  const { now } = s;
  if (result === undefined) {
    if (t.cancelNow && inv.pending !== undefined && inv.cancelSentAt === undefined) {
      // SSM CancelCommand, the agent kills the script's process group, the simulator stops it: the runner then
      // reports it cancelled (or finished, if it was quicker), and the target goes back as after any run.
      s.actions.push({ kind: 'cancel-script', task: task.name, commandId: inv.pending.id, instanceId: inv.target, reason: `${task.name}: ${cancelWhy(exec)}` });
      s.notes.push({ instanceId: inv.target, summary: `${task.name}: ${cancelWhy(exec)}: cancelling the running script` });
      return { ...inv, cancelSentAt: now, detail: `${cancelWhy(exec)}: cancelling the running script` };
    }
    if (inv.cancelSentAt !== undefined && now > inv.cancelSentAt + CANCEL_CONFIRM_MS) {
      // The script may still run: a drained target is not put back on a guess.
      const why = `the cancel was not confirmed within ${formatDuration(CANCEL_CONFIRM_MS)}${inv.outOfService ? '; left out of service' : ''}`;
      s.notes.push({ instanceId: inv.target, summary: `${task.name}: ${why}` });
      return finish(inv, 'CANCELLED', why, now);
    }
    if (inv.pending !== undefined && now > inv.pending.sentAt + task.timeoutMs + LOST_AFTER_MS) return finish(inv, 'TIMED_OUT', `no result ${formatDuration(task.timeoutMs + LOST_AFTER_MS)} after it was sent`, now);
    return inv;
  }
  const key = outputKey(exec, task.name, inv.target, inv.runs);
  s.outputs.push({ key, body: result.output });
  const kept = { exitCode: result.exitCode, output: result.output.slice(0, OUTPUT_INLINE_CHARS), outputKey: key, pending: undefined };
  const reboots = result.reboots > 0 ? ` after ${result.reboots} reboot(s) it asked for (exit 194)` : '';
  switch (result.status) {
    case 'success':
      s.notes.push({ instanceId: inv.target, summary: `${task.name}: exit 0${reboots}` });
      return afterTask(s, exec, task, { ...inv, ...kept });
    case 'undeliverable':
      // Nothing ran: it does not count against MaxErrors, and a drained target goes back.
      return inv.outOfService ? { ...putBack(s, task, { ...inv, ...kept }, 'undeliverable: put back'), status: 'UNDELIVERABLE' } : finish(inv, 'UNDELIVERABLE', 'undeliverable', now, kept);
    case 'cancelled':
      // Stopped on request: not an error; a drained target goes back by the normal path (registered, healthy, settled).
      s.notes.push({ instanceId: inv.target, summary: `${task.name}: script cancelled` });
      return inv.outOfService ? { ...putBack(s, task, { ...inv, ...kept }, 'script cancelled: put back'), status: 'CANCELLED' } : finish(inv, 'CANCELLED', 'script cancelled', now, kept);
    case 'failed':
    case 'timed-out': {
      const why = result.status === 'failed' ? `exit ${result.exitCode ?? 'signal'}${reboots}` : `timed out after ${formatDuration(task.timeoutMs)}`;
      s.notes.push({ instanceId: inv.target, summary: `${task.name}: ${why}${inv.outOfService ? '; left out of service' : ''}` });
      return finish(inv, result.status === 'failed' ? 'FAILED' : 'TIMED_OUT', `${why}${inv.outOfService ? '; left out of service' : ''}`, now, kept);
    }
  }
  return inv;
}

function onChecking(t: Turn): Invocation {
  const { s, exec, task, inv, result } = t;
  const { now } = s;
  if (result === undefined) {
    if (inv.pending === undefined && now - inv.phaseSince < (task.healthCheck?.withinMs ?? 0)) return sendScript(s, exec, task, inv, 'health', 'checked again');
    if (inv.pending !== undefined && now <= inv.pending.sentAt + (task.healthCheck?.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS) + LOST_AFTER_MS) return inv;
  } else if (result.status === 'success') {
    return putBack(s, task, { ...inv, pending: undefined }, `health check passed (${inv.healthChecks ?? 1} run(s)): put back in service`);
  }
  const within = task.healthCheck?.withinMs ?? 0;
  if (now - inv.phaseSince >= within) {
    s.notes.push({ instanceId: inv.target, summary: `${task.name}: health check did not pass within ${formatDuration(within)}; left out of service` });
    return finish(inv, 'FAILED', `health check did not pass within ${formatDuration(within)}; left out of service`, now, { pending: undefined });
  }
  // Failed: checked again after a pause (the next tick after HEALTH_RETRY_MS).
  return { ...inv, pending: undefined, detail: `health check failed (exit ${result?.exitCode ?? '?'}); again in ${formatDuration(HEALTH_RETRY_MS)}` };
}

/**
 * Putting back: the handshake's steps (ports open, health passing — each confirmed), then registered in the target
 * groups and healthy there (with none: the detection time), then settled; only then back in service.
 */
function onReturning(t: Turn): Invocation {
  const { s, task, inv, view } = t;
  const { now } = s;
  if (inv.step === 'unblock' || inv.step === 'unfail') return putBackStep(t);
  const noHealthAnswer = s.input.acks?.get(inv.target)?.health === 'none';
  const tgs = inv.deregisteredFrom ?? [];
  const detectedAt = s.handshake.confirm && tgs.length === 0 && !noHealthAnswer ? (inv.confirmedAt ?? inv.phaseSince) + s.handshake.lbDetectionMs : 0;
  const back = tgs.every((tg) => view?.targets[tg] === 'healthy') && now >= detectedAt;
  if (inv.endedAt !== undefined) {
    // Returned by an operator after a failure: done once registered again; the failure stays on record.
    return back ? { ...inv, phase: 'done', phaseSince: now, step: undefined, detail: `${inv.detail.replace(/; left out of service$/, '')}; returned to service by an operator` } : inv;
  }
  if (now - inv.phaseSince >= task.settleMs && back) {
    s.notes.push({ instanceId: inv.target, summary: `${task.name}: back in service` });
    return finish({ ...inv, step: undefined }, inv.status === 'IN_PROGRESS' ? 'SUCCESS' : inv.status, inv.status === 'IN_PROGRESS' ? 'done: back in service' : `${inv.status.toLowerCase().replace(/_/g, ' ')}: back in service`, now);
  }
  const left = now < detectedAt ? `${formatDuration(detectedAt - now)} left for the load balancer to see the passing health answer` : `settling ${formatDuration(task.settleMs - (now - inv.phaseSince))}`;
  return { ...inv, detail: back || now < detectedAt ? left : 'put back: waiting until healthy in its target groups' };
}

/** Putting back, confirmed step by step: ports open, then health passing, then (written ahead) the target groups. */
function putBackStep(t: Turn): Invocation {
  const { s, task, inv } = t;
  const what = inv.step === 'unblock' ? 'accept new connections again' : 'pass its health answer again';
  const state = handshakeState(s, inv);
  if (state === 'late') return leftOut(s, task, inv, `its agent did not confirm it would ${what} within ${formatDuration(s.handshake.confirmTimeoutMs)} (agent.confirmTimeout)`);
  if (state === 'waiting') return { ...inv, detail: `putting back: waiting for the agent to ${what}` };
  s.notes.push({ instanceId: inv.target, summary: `${task.name}: its agent confirmed it ${inv.step === 'unblock' ? 'accepts new connections' : 'passes its health answer'} (${formatDuration(s.now - (inv.agent?.since ?? s.now))} after asked)` });
  if (inv.step === 'unblock') return { ...goal(s, inv, 'open', 'pass', 'unfail'), detail: 'putting back: waiting for the agent to pass its health answer again' };
  s.actions.push({ kind: 'put-back', task: task.name, instanceId: inv.target, targetGroups: inv.deregisteredFrom ?? [], reason: `${task.name}: put back (its agent confirmed)` });
  return { ...inv, step: 'register', phaseSince: s.now, confirmedAt: s.now, detail: 'put back: waiting until healthy in its target groups' };
}

function onDone(t: Turn): Invocation {
  const { s, task, inv } = t;
  if (inv.outOfService && s.input.returnToService?.has(inv.target) === true) {
    s.notes.push({ instanceId: inv.target, summary: `${task.name}: returned to service by an operator (control return-to-service)` });
    return { ...putBack(s, task, inv, inv.detail), status: inv.status, endedAt: inv.endedAt ?? s.now };
  }
  return inv;
}

/**
 * A target newly dispatched: a drain task takes it out of service first; a plain task runs at once. Where the agents
 * confirm, the take-out begins with the health answer (the target groups are left at once: they drain themselves).
 */
function dispatch(s: Step, exec: WindowExecution, task: TaskDecl, target: string): Invocation {
  const view = s.input.instances.get(target);
  const base: Invocation = { target, status: 'PENDING', phase: 'running', phaseSince: s.now, startedAt: s.now, runs: 0, outOfService: false, detail: 'dispatched' };
  if (!task.drain) return sendScript(s, exec, task, base, 'task', 'dispatched');
  // Written ahead: the caller deregisters once this decision is saved (see putBack).
  const tgs = Object.keys(view?.targets ?? {}).sort();
  s.actions.push({ kind: 'take-out', task: task.name, instanceId: target, targetGroups: tgs, reason: `${task.name}: taken out of service before the task` });
  s.notes.push({ instanceId: target, summary: `${task.name}: taken out of service${tgs.length > 0 ? ` (${tgs.join(', ')})` : ''}` });
  const out: Invocation = { ...base, status: 'IN_PROGRESS', phase: 'draining', deregisteredFrom: tgs, outOfService: true, detail: 'draining' };
  if (s.handshake.confirm) return { ...goal(s, out, 'open', 'fail', 'health'), detail: 'taking out: waiting for the agent to fail its health answer' };
  return goal(s, out, 'blocked', 'fail', 'inflight');
}

function advanceTask(s: Step, exec: WindowExecution, task: TaskDecl, te: TaskExecution): TaskExecution {
  const { now, input } = s;
  if (te.status === 'PENDING') return te; // they start below, when their priority comes
  if (te.status !== 'IN_PROGRESS') {
    // A finished task only moves instances it left out of service that an operator returns.
    if (!te.invocations.some((i) => i.outOfService || i.phase === 'returning')) return te;
    return { ...te, invocations: te.invocations.map((inv) => advanceInvocation(s, exec, task, inv, false)) };
  }
  const pastCutoff = now > exec.lastTaskStart;
  const cancelled = exec.cancel !== undefined;
  const cancelNow = cancelled || (pastCutoff && task.cutoffBehavior === 'cancel');
  const invocations = te.invocations.map((inv) => advanceInvocation(s, exec, task, inv, cancelNow));
  const statuses: Record<string, InvocationStatus> = Object.fromEntries(invocations.map((i) => [i.target, i.status]));
  for (const t of te.terminated) statuses[t] = 'TERMINATED';
  const spec = { name: task.name, priority: task.priority, maxConcurrency: task.maxConcurrency, maxErrors: task.maxErrors, cutoffBehavior: task.cutoffBehavior };
  const decision = dispatchStep(spec, { targets: te.targets, invocations: statuses }, now, exec.lastTaskStart, cancelled);
  // A target another execution holds out of service waits for it (overlapping windows never work on it together).
  let chosen = decision.dispatch.filter((t) => !input.outElsewhere.has(t));
  let detail = chosen.length < decision.dispatch.length ? `${decision.reason}; waiting for another execution to put back ${decision.dispatch.filter((t) => input.outElsewhere.has(t)).join(', ')}` : decision.reason;
  if (task.drain && chosen.length > 0) {
    // The capacity floor: serving targets after this batch is taken out must stay at or above it.
    // Where the agents confirm, an instance being put back serves only once it is back (confirmed, healthy, settled).
    const out = new Set([...input.outElsewhere, ...invocations.filter((i) => i.outOfService || (s.handshake.confirm && i.phase === 'returning')).map((i) => i.target)]);
    const servingNow = te.targets.filter((t) => serving(s, input.instances.get(t), out)).length;
    const floor = resolveCount(task.capacityFloor, te.targets.length);
    const room = Math.max(0, servingNow - floor);
    if (room < chosen.length) {
      chosen = chosen.slice(0, room);
      const unconfirmed = s.handshake.confirm ? te.targets.filter((t) => !out.has(t) && !reportsServing(input.acks?.get(t), s.now, s.handshake.confirmTimeoutMs)) : [];
      detail = `capacity floor ${floor}: ${servingNow} serving, ${chosen.length} taken out now${unconfirmed.length === 0 ? '' : ` (not confirmed serving by their agents: ${unconfirmed.slice(0, 5).join(', ')}${unconfirmed.length > 5 ? ', …' : ''})`}`;
    }
  }
  const next = [...invocations, ...chosen.map((t) => dispatch(s, exec, task, t))];
  const terminated = [...te.terminated, ...decision.terminate.filter((t) => !te.terminated.includes(t))];
  const running = next.some((i) => !isFinished(i.status));
  const remaining = te.targets.length - next.length - terminated.length;
  let status: TaskExecution['status'] = 'IN_PROGRESS';
  if (!running && remaining === 0) {
    if (cancelled && (terminated.length > 0 || next.some((i) => i.status === 'CANCELLED'))) status = 'CANCELLED';
    else if (cancelNow || next.some((i) => i.status === 'CANCELLED')) status = 'TIMED_OUT';
    else if (terminated.length > 0 || next.some((i) => i.status === 'FAILED' || i.status === 'TIMED_OUT')) status = 'FAILED';
    else status = 'SUCCESS';
  }
  if (decision.terminate.length > 0) s.notes.push({ instanceId: null, summary: `${task.name}: ${decision.reason}; ${decision.terminate.length} target(s) not run` });
  const done = status !== 'IN_PROGRESS';
  if (done) s.notes.push({ instanceId: null, summary: `${task.name}: ${status}`, status, task: task.name });
  return { ...te, invocations: next, terminated, status, detail, ...(done ? { endedAt: now } : {}) };
}

/**
 * A task's targets when its priority comes. An instance where an earlier task of the execution failed is skipped
 * (seed 001: the health check does not run where the patch failed) unless the task says `runAfterFailure`; one an
 * earlier task left out of service always is (it waits for an operator).
 */
function startTask(s: Step, task: TaskDecl, earlier: readonly TaskExecution[]): TaskExecution {
  const failed = new Set(earlier.flatMap((t) => t.invocations.filter((i) => countsAsError(i.status)).map((i) => i.target)));
  const out = new Set(earlier.flatMap((t) => t.invocations.filter((i) => i.outOfService).map((i) => i.target)));
  const selected = selectTargets(task, s.input.instances);
  const skipped = selected.filter((t) => out.has(t) || (!task.runAfterFailure && failed.has(t)));
  const targets = selected.filter((t) => !skipped.includes(t));
  const skipNote = skipped.length === 0 ? '' : `; skipped ${skipped.join(', ')} (an earlier task failed there)`;
  s.notes.push({ instanceId: null, summary: `${task.name}: started on ${targets.length} target(s)${skipNote}` });
  const base = { name: task.name, priority: task.priority, startedAt: s.now, targets, invocations: [], terminated: [], ...(skipped.length === 0 ? {} : { skipped }) };
  if (targets.length === 0 && skipped.length > 0) return { ...base, status: 'CANCELLED', endedAt: s.now, detail: `not run: every target was skipped${skipNote}` };
  if (targets.length === 0) return { ...base, status: 'SUCCESS', endedAt: s.now, detail: 'no target: nothing to do' };
  return { ...base, status: 'IN_PROGRESS', detail: `started${skipNote}` };
}

/** Whether a failed task spent more than its error budget (MaxErrors): with `onTaskFailure: abort`, the end. */
function budgetExceeded(te: TaskExecution, decl: TaskDecl | undefined): boolean {
  const errors = te.invocations.filter((i) => countsAsError(i.status)).length;
  return te.status === 'FAILED' && errors > (decl === undefined ? 0 : allowedErrors(decl.maxErrors, te.targets.length));
}

/** A new execution for a period of a window with tasks. */
export function newExecution(group: string, window: string, start: number, end: number, lastTaskStart: number, tasks: readonly TaskDecl[], now: number, description?: string): WindowExecution {
  return {
    id: `${group}/${window}/${new Date(start).toISOString().replace('.000Z', 'Z')}`,
    group,
    window,
    ...(description === undefined ? {} : { description }),
    start,
    end,
    lastTaskStart,
    status: 'IN_PROGRESS',
    startedAt: now,
    tasks: [...tasks].sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name)).map((t) => ({ name: t.name, priority: t.priority, status: 'PENDING', targets: [], invocations: [], terminated: [], detail: 'waiting for its priority' })),
  };
}

export function advanceExecution(input: AdvanceInput): Advance {
  const s = new Step(input);
  const { now } = input;
  let { exec } = input;
  const holding = exec.tasks.some((t) => t.invocations.some((i) => i.outOfService || i.phase === 'returning'));
  if (exec.status !== 'IN_PROGRESS' && !holding) return { exec, actions: [], outputs: [], notes: [] };
  if (exec.status === 'IN_PROGRESS' && exec.cancel === undefined && input.cancel != null) {
    const c = input.cancel;
    exec = { ...exec, cancel: c };
    s.notes.push({ instanceId: null, summary: `window execution ${exec.id}: cancelled by ${c.by} at ${new Date(c.at).toISOString()} (${c.reason}): nothing new starts, running scripts are cancelled, drained targets go back` });
  }
  const decls = new Map(input.tasks.map((t) => [t.name, t]));
  let tasks = exec.tasks.map((te) => {
    const decl = decls.get(te.name);
    return decl === undefined ? te : advanceTask(s, exec, decl, te);
  });
  // Start the tasks of the runnable priority that have not started; none starts after the cutoff.
  const specs = tasks.map((t) => ({ name: t.name, priority: t.priority, maxConcurrency: { kind: 'absolute' as const, value: 1 }, maxErrors: { kind: 'absolute' as const, value: 0 }, cutoffBehavior: 'continue' as const }));
  const statusOf = (name: string): TaskStatus => {
    const st = tasks.find((t) => t.name === name)?.status ?? 'PENDING';
    return st === 'CANCELLED' ? 'FAILED' : st;
  };
  for (let guard = 0; guard < tasks.length + 1; guard++) {
    const p = runnablePriority(specs, statusOf);
    if (p === null) break;
    const toStart = tasks.filter((t) => t.priority === p && t.status === 'PENDING');
    if (toStart.length === 0) break;
    // Cancelled, or (onTaskFailure: abort) an earlier priority spent its error budget: nothing of this one starts.
    const failedEarlier = input.onTaskFailure === 'continue' ? undefined : tasks.find((t) => t.priority < p && budgetExceeded(t, decls.get(t.name)));
    const stop = exec.cancel !== undefined ? `the execution was cancelled by ${exec.cancel.by}` : failedEarlier === undefined ? null : `task ${failedEarlier.name} exceeded its error budget (onTaskFailure: abort)`;
    const earlier = tasks.filter((t) => t.priority < p);
    tasks = tasks.map((t) => {
      if (t.priority !== p || t.status !== 'PENDING') return t;
      const decl = decls.get(t.name);
      if (stop !== null) return { ...t, status: 'CANCELLED', endedAt: now, detail: `not started: ${stop}` };
      if (decl === undefined) return { ...t, status: 'CANCELLED', endedAt: now, detail: 'no longer in the configuration' };
      if (now > exec.lastTaskStart) return { ...t, status: 'CANCELLED', endedAt: now, detail: 'the cutoff passed before its priority could start' };
      const started = startTask(s, decl, earlier);
      return started.status === 'IN_PROGRESS' ? advanceTask(s, exec, decl, started) : started;
    });
    if (stop !== null) s.notes.push({ instanceId: null, summary: `${toStart.map((t) => t.name).join(', ')}: not started: ${stop}` });
  }
  if (exec.status !== 'IN_PROGRESS') return { exec: { ...exec, tasks }, actions: s.actions, outputs: s.outputs, notes: s.notes };
  const open = tasks.some((t) => t.status === 'PENDING' || t.status === 'IN_PROGRESS');
  let status: ExecutionStatus = 'IN_PROGRESS';
  if (!open && exec.cancel !== undefined) status = 'CANCELLED';
  else if (!open) status = tasks.some((t) => t.status === 'FAILED') ? 'FAILED' : tasks.some((t) => t.status === 'TIMED_OUT' || t.status === 'CANCELLED') ? 'TIMED_OUT' : 'SUCCESS';
  const next: WindowExecution = { ...exec, tasks, status, ...(open ? {} : { endedAt: now }) };
  if (!open) s.notes.push({ instanceId: null, summary: `window execution ${exec.id}: ${status}${exec.cancel === undefined ? '' : ` (cancelled by ${exec.cancel.by})`}`, status });
  return { exec: next, actions: s.actions, outputs: s.outputs, notes: s.notes };
}

/** Instances an execution holds out of service or is working on: the planner leaves them alone. */
export function heldInstances(execs: readonly WindowExecution[]): { held: Set<string>; outOfService: Set<string> } {
  const held = new Set<string>();
  const outOfService = new Set<string>();
  for (const e of execs) {
    for (const t of e.tasks) {
      for (const i of t.invocations) {
        if (i.outOfService) outOfService.add(i.target);
        if (i.outOfService || !isFinished(i.status)) held.add(i.target);
      }
    }
  }
  return { held, outOfService };
}

/**
 * What an instance's agent is to apply now: the goal of a maintenance invocation holding it (out of service, or
 * being put back), else its lifecycle state's (draining: ports blocked, health failing). The version changes
 * whenever the goal is set anew, so an acknowledgement names the goal it answers.
 */
export function agentGoal(instanceId: string, state: string, since: number, execs: readonly WindowExecution[], lifecycle?: { readonly now: number; readonly handshake: Handshake }): AgentGoal {
  let held: Invocation | undefined;
  for (const e of execs) {
    for (const t of e.tasks) {
      for (const i of t.invocations) {
        if (i.target !== instanceId || !(i.outOfService || i.phase === 'returning')) continue;
        // Out of service wins over being put back (two executions never hold one instance; if they did, stay safe).
        if (held === undefined || (i.outOfService && !held.outOfService)) held = i;
      }
    }
  }
  if (held !== undefined) {
    if (held.agent !== undefined) return { ports: held.agent.ports, health: held.agent.health, version: goalVersion(held.agent) };
    // Stored before the handshake: out of service meant ports blocked.
    return held.outOfService ? { ports: 'blocked', health: 'fail', version: `m-${held.startedAt}-blocked-fail` } : { ports: 'open', health: 'pass', version: `m-${held.phaseSince}-open-pass` };
  }
  const draining = state === 'draining';
  // A lifecycle drain (scale-in) where the agents confirm: the health answer fails first, and the ports are blocked
  // only once the load balancer has had `agent.lbDetection` to stop routing — the order a take-out follows.
  if (draining && lifecycle?.handshake.confirm === true && lifecycle.now < since + lifecycle.handshake.lbDetectionMs) return { ports: 'open', health: 'fail', version: `l-${state}-${since}-health` };
  return { ports: draining ? 'blocked' : 'open', health: draining ? 'fail' : 'pass', version: `l-${state}-${since}` };
}
