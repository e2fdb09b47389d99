import { fleetLabel } from '../config/resolve.js';
import { formatDuration } from '../domain/durations.js';
import type { InstanceRecord } from '../domain/model.js';
import type { Member, PlanContext } from './context.js';
import { eventOutcome } from './events.js';

type DrainCause = NonNullable<InstanceRecord['drainCause']>;

/** Target groups the instance is registered in now (anything but `unused`/`unavailable` counts as registered). */
function registeredIn(m: Member): string[] {
  const out: string[] = [];
  for (const tg in m.obs.targets) {
    const h = m.obs.targets[tg];
    if (h !== 'unused' && h !== 'unavailable') out.push(tg);
  }
  return out;
}

/**
 * The target groups where the instance's health is `health`: usually none, so nothing is allocated then (this runs for
 * every instance of every group on every tick).
 */
function targetsIn(m: Member, health: string): string[] | null {
  let out: string[] | null = null;
  for (const tg in m.obs.targets) if (m.obs.targets[tg] === health) (out ??= []).push(tg);
  return out;
}

/** Why `m` may not be drained or stopped now, or null. The kill switch, windows and fail-closed come first. */
export function stopBlocker(ctx: PlanContext, m: Member): string | null {
  if (killSwitchOn(ctx)) return 'stop blocked: workload kill switch on (workload.killSwitch): no action on the workload';
  const byWindow = ctx.resolved.windows.stopBlocker(m.fleet);
  if (byWindow !== null) return byWindow;
  if (ctx.has(m.obs.id, 'unstoppable')) return 'stop blocked: instance marked unstoppable';
  return null;
}

/**
 * A workload's kill switch (seed 003 DisableAllSchedulingActions) stops every action on it: no start, no stop, no drain
 * (issue, unuseable or tier), no registration. Records still follow what is observed.
 */
export function killSwitchOn(ctx: PlanContext): boolean {
  return ctx.group.workload !== null && ctx.settings.killSwitch;
}

/** running/unuseable → draining: deregister from every target group it is in; remember them for later. */
export function beginDrain(ctx: PlanContext, m: Member, cause: DrainCause, reason: string): void {
  const tgs = registeredIn(m);
  // Groups still awaiting re-registration stay listed: it is where the instance belongs.
  const belongs = [...new Set([...(m.record.deregisteredFrom ?? []), ...tgs])];
  ctx.move(m, 'draining', reason, { drainCause: cause, deregisteredFrom: belongs, issueSince: undefined, issue: undefined });
  for (const tg of tgs) ctx.command({ kind: 'deregister', targetGroup: tg, instances: [m.obs.id], reason: `drain: ${cause}` });
}

/**
 * draining → running: the capacity is needed again; put it back in the target groups it left. The list of those
 * groups stays in the record until the registration is observed (see `ensureRegistered`).
 */
export function reclaim(ctx: PlanContext, m: Member, reason: string): void {
  const tgs = m.record.deregisteredFrom ?? [];
  ctx.move(m, 'running', reason, { drainCause: undefined });
  for (const tg of tgs) ctx.command({ kind: 'register', targetGroup: tg, instances: [m.obs.id], reason: 'drain cancelled' });
}

/** stopped → starting, registering it back where its last drain took it out. */
export function start(ctx: PlanContext, m: Member, reason: string): void {
  const tgs = m.record.deregisteredFrom ?? [];
  ctx.move(m, 'starting', reason, { drainCause: undefined, forcedStop: undefined, errorUntil: undefined });
  ctx.command({ kind: 'start', instances: [m.obs.id], reason });
  for (const tg of tgs) ctx.command({ kind: 'register', targetGroup: tg, instances: [m.obs.id], reason: 'started: back in its target group' });
}

/**
 * Level-triggered repair of registration: an instance in service whose record still names target groups it was
 * taken out of is registered wherever it is absent (a crash between a start and its registration would otherwise
 * leave it running outside the load balancer); the list is cleared once every registration is observed.
 */
export function ensureRegistered(ctx: PlanContext, m: Member): void {
  if (m.record.state !== 'initializing' && m.record.state !== 'running') return;
  if (ctx.held(m.obs.id)) return; // taken out by maintenance on purpose: it puts the instance back itself
  const tgs = m.record.deregisteredFrom ?? [];
  if (tgs.length === 0) return;
  const absent = tgs.filter((tg) => m.obs.targets[tg] === undefined);
  if (absent.length === 0) {
    ctx.patch(m, { deregisteredFrom: undefined });
    return;
  }
  if (ctx.commandsFor(m.obs.id).some((c) => c.kind === 'register')) return; // already asked this tick
  for (const tg of absent) ctx.command({ kind: 'register', targetGroup: tg, instances: [m.obs.id], reason: 'in service but absent from its target group: registered again' });
}

/** initializing → running when every readiness gate holds; → unuseable when that takes too long. */
function checkInitializing(ctx: PlanContext, m: Member): void {
  const age = ctx.now - m.record.since;
  const waiting: string[] = [];
  const warmUp = ctx.settings.lifecycle('warmUp');
  if (age < warmUp) waiting.push(`warm-up ${formatDuration(warmUp)}`);
  if (m.obs.health !== 'ok') waiting.push(`provider health ${m.obs.health}`);
  const initial = targetsIn(m, 'initial');
  if (initial !== null) waiting.push(`target group ${initial.join(', ')} initial`);
  if (ctx.settings.event('instance-ready-for-operation').enabled) {
    const probe = eventOutcome(ctx, m, 'instance-ready-for-operation');
    if (probe !== 'success') waiting.push(`ready-for-operation probe ${probe}`);
  }
  if (waiting.length === 0) {
    ctx.move(m, 'running', 'ready: warm-up elapsed, healthy, probe passed where enabled');
    return;
  }
  const limit = ctx.settings.lifecycle('initializingTimeout');
  if (age >= limit) ctx.move(m, 'unuseable', `not ready within ${formatDuration(limit)}: waiting for ${waiting.join(', ')}`);
}

/** Issues (unhealthy target, impaired) are timed; one that lasts `issueGrace` drains the instance. */
function checkIssues(ctx: PlanContext, m: Member, fullFleet: boolean): void {
  if (ctx.held(m.obs.id)) return; // out of its target groups, or rebooting, for maintenance: not an issue
  const unhealthy = targetsIn(m, 'unhealthy');
  const issue = m.obs.health === 'impaired' ? 'provider reports impaired' : unhealthy !== null ? `unhealthy in target group ${unhealthy.join(', ')}` : null;
  if (issue === null) {
    if (m.record.issueSince !== undefined) ctx.patch(m, { issueSince: undefined, issue: undefined });
    return;
  }
  const since = m.record.issueSince ?? ctx.now;
  if (m.record.issueSince === undefined) ctx.patch(m, { issueSince: since, issue });
  const grace = ctx.settings.lifecycle('issueGrace');
  if (ctx.now - since < grace) return;
  if (fullFleet) return void ctx.why.push(`${m.obs.id}: ${issue} for ${formatDuration(ctx.now - since)}; not drained: ${fleetLabel(m.fleet)} is at 100%`);
  const blocker = stopBlocker(ctx, m);
  if (blocker !== null) return void ctx.why.push(`${m.obs.id}: ${issue}; ${blocker}`);
  if (!ctx.takeDrain()) return void ctx.why.push(`${m.obs.id}: ${issue}; drain deferred: drains-per-tick cap reached`);
  beginDrain(ctx, m, 'issue', `${issue} for ${formatDuration(ctx.now - since)} (grace ${formatDuration(grace)})`);
}

/** unuseable → draining after its grace, so it is replaced and examined rather than left half-alive. */
function checkUnuseable(ctx: PlanContext, m: Member): void {
  const grace = ctx.settings.lifecycle('unuseableGrace');
  if (ctx.now - m.record.since < grace) return;
  const blocker = stopBlocker(ctx, m);
  if (blocker !== null) return void ctx.why.push(`${m.obs.id}: unuseable; ${blocker}`);
  if (!ctx.takeDrain()) return;
  beginDrain(ctx, m, 'unuseable', `unuseable for ${formatDuration(grace)}: drained to be replaced`);
}

/** draining → stopping when every stop gate holds. */
function checkDraining(ctx: PlanContext, m: Member): void {
  const blocker = stopBlocker(ctx, m);
  if (blocker !== null) return void ctx.why.push(`${m.obs.id}: draining; ${blocker}`);
  const waiting: string[] = [];
  const still = (m.record.deregisteredFrom ?? []).filter((tg) => {
    const h = m.obs.targets[tg];
    return h !== undefined && h !== 'unused' && h !== 'unavailable';
  });
  if (still.length > 0) waiting.push(`deregistration from ${still.join(', ')}`);
  // Level-triggered: a deregistration that was decided but not carried out (a controller killed after saving the
  // drain, a call that failed) is sent again while the target group still routes to the instance.
  const routed = still.filter((tg) => m.obs.targets[tg] !== 'draining');
  if (routed.length > 0 && !ctx.commandsFor(m.obs.id).some((c) => c.kind === 'deregister')) {
    for (const tg of routed) ctx.command({ kind: 'deregister', targetGroup: tg, instances: [m.obs.id], reason: 'drain: deregistration repeated (not yet seen by the target group)' });
  }
  // A target group's deregistration delay is the time its owner gives in-flight work: the drain lasts at least that
  // long (and drainMinimum), whatever the group reports sooner.
  const minimum = Math.max(ctx.settings.lifecycle('drainMinimum'), ...(m.record.deregisteredFrom ?? []).map((tg) => ctx.deregistrationDelays.get(tg) ?? 0));
  const age = ctx.now - m.record.since;
  if (age < minimum) waiting.push(`minimum drain time ${formatDuration(minimum)}`);
  let force = false;
  if (ctx.settings.event('instance-ready-for-shutdown').enabled) {
    const probe = eventOutcome(ctx, m, 'instance-ready-for-shutdown');
    if (probe !== 'success') {
      const limit = ctx.settings.lifecycle('shutdownTimeout');
      if (age < limit) waiting.push(`ready-for-shutdown probe ${probe}`);
      else force = true;
    }
  }
  if (ctx.inError(m)) waiting.push(`error back-off (${m.record.lastError ?? 'last stop failed'})`);
  if (waiting.length > 0) return;
  const reason = force ? `forced stop: ready-for-shutdown probe did not succeed within ${formatDuration(ctx.settings.lifecycle('shutdownTimeout'))}` : 'drained: all stop gates passed';
  ctx.move(m, 'stopping', reason, { forcedStop: force });
  ctx.command({ kind: 'stop', instances: [m.obs.id], force, reason: force ? 'forced stop after drain timeout' : 'drained' });
}

/** A stop that did not take (still running, or a refused call after its back-off) is sent again. */
const STOP_RETRY_MS = 5 * 60_000;

function checkStopping(ctx: PlanContext, m: Member): void {
  if (m.obs.power !== 'running') return;
  // Still running and now blocked (a window began before the stop could be sent): it is not re-sent; the instance
  // goes back through its readiness gates and into its target groups.
  const blocker = stopBlocker(ctx, m);
  if (blocker !== null) { ctx.move(m, 'initializing', `stop not carried out: ${blocker}; back in service once ready`, { stopSentAt: undefined, forcedStop: undefined, drainCause: undefined }); return; }
  if (ctx.inError(m)) return;
  const last = m.record.stopSentAt ?? m.record.since;
  if (ctx.now - last < STOP_RETRY_MS) return;
  ctx.patch(m, { stopSentAt: ctx.now });
  ctx.why.push(`${m.obs.id}: still running ${formatDuration(ctx.now - m.record.since)} after its stop; stop sent again`);
  ctx.command({ kind: 'stop', instances: [m.obs.id], force: m.record.forcedStop === true, reason: 'stop re-sent: instance still running' });
}

/** The per-instance lifecycle rules, in an order that lets one tick move an instance at most one step. */
export function applyLifecycle(ctx: PlanContext, fullFleet: (m: Member) => boolean): void {
  for (const m of ctx.members) {
    switch (m.record.state) {
      case 'initializing':
        checkInitializing(ctx, m);
        break;
      case 'running':
        checkIssues(ctx, m, fullFleet(m));
        break;
      case 'unuseable':
        checkUnuseable(ctx, m);
        break;
      case 'draining':
        checkDraining(ctx, m);
        break;
      case 'stopping':
        checkStopping(ctx, m);
        break;
      case 'stopped':
      case 'starting':
      case 'excluded':
        break;
    }
  }
}
