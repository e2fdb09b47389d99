import type { TierConfig, WorkloadConfig } from '../config/config.js';
import type { Resolved } from '../config/resolve.js';
import { formatDuration } from '../domain/durations.js';
import type { LifecycleState } from '../domain/lifecycle.js';
import type { Control, InstanceRecord, WorkloadRecord } from '../domain/model.js';
import { formatInstant } from '../domain/time.js';
import type { Member, PlanContext } from './context.js';
import { beginDrain, reclaim, start } from './lifecycle.js';
import { compareIds } from '../domain/text.js';

/** Beyond the script timeout, how long a bypass check may go unanswered before it is sent again. */
const CHECK_MARGIN_MS = 30_000;

/** What set workload.state: its layer, source and expiry (a new override or period is a new request). */
function requestOf(ctx: PlanContext): string {
  const e = ctx.resolved.layers.get('workload.state')?.at(-1);
  return e === undefined ? 'default' : `${e.layer}|${e.source}|${e.expiresAt ?? ''}`;
}

/** Tiers grouped by sequence number, ascending; equal numbers form one step acted on together. */
export function steps(tiers: readonly TierConfig[], direction: 'start' | 'stop'): TierConfig[][] {
  const bySeq = new Map<number, TierConfig[]>();
  for (const t of tiers) {
    const seq = t[direction].sequence;
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), t]);
  }
  return [...bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
}

/** Readiness gate of a started instance: running (warm-up, health, probe) and healthy in every target group. */
function ready(m: Member): boolean {
  return m.record.state === 'excluded' || (m.record.state === 'running' && Object.values(m.obs.targets).every((h) => h !== 'initial' && h !== 'unhealthy'));
}

function byId(a: Member, b: Member): number {
  return compareIds(a.obs.id, b.obs.id);
}

function startStep(ctx: PlanContext, step: readonly TierConfig[], members: ReadonlyMap<string, Member[]>, rec: WorkloadRecord): { rec: WorkloadRecord; proceed: boolean } {
  let next = rec;
  let proceed = true;
  for (const t of step) {
    const list = members.get(t.name) ?? [];
    if (list.every(ready)) continue;
    proceed = false;
    const startedAt = next.tierStartedAt[t.name] ?? ctx.now;
    if (next.tierStartedAt[t.name] === undefined) next = { ...next, tierStartedAt: { ...next.tierStartedAt, [t.name]: ctx.now } };
    for (const m of list) if (m.record.state === 'draining') reclaim(ctx, m, `tier start: ${t.name}`);
    const inFlight = list.filter((m) => m.record.state === 'starting' || m.record.state === 'initializing');
    const stopped = list.filter((m) => m.record.state === 'stopped' && !ctx.has(m.obs.id, 'unstartable') && !ctx.inError(m)).sort(byId);
    if (t.start.synchronous && inFlight.length > 0) {
      ctx.why.push(`tier ${t.name}: synchronous start waits for ${inFlight.map((m) => m.obs.id).join(', ')}`);
    } else {
      for (const m of t.start.synchronous ? stopped.slice(0, 1) : stopped) {
        if (!ctx.takeStart()) {
          ctx.why.push(`tier ${t.name}: starts deferred: starts-per-tick cap reached`);
          break;
        }
        start(ctx, m, `tier start: ${t.name} (start sequence ${t.start.sequence})`);
      }
    }
    const waited = ctx.now - startedAt;
    if (waited >= t.start.readinessTimeoutMs) {
      const reason = `tier ${t.name} not ready within ${formatDuration(t.start.readinessTimeoutMs)}`;
      if (t.start.onTimeout === 'abort') {
        ctx.why.push(`${reason}: start sequence aborted; set workload.state again (or change it) to retry`);
        return { rec: { ...next, abortedAt: { tier: t.name, at: ctx.now, reason, request: requestOf(ctx) } }, proceed: false };
      }
      ctx.why.push(`${reason}: continuing with the next tier (onTimeout: continue)`);
      proceed = true;
    }
  }
  return { rec: next, proceed };
}

function stopStep(ctx: PlanContext, step: readonly TierConfig[], members: ReadonlyMap<string, Member[]>, rec: WorkloadRecord): boolean {
  let done = true;
  for (const t of step) {
    if (t.ignoreStop) {
      ctx.why.push(`tier ${t.name}: ignoreStop: left running`);
      continue;
    }
    const list = (members.get(t.name) ?? []).sort(byId);
    const pending = list.filter((m) => {
      if (m.record.state === 'stopped' || m.record.state === 'excluded') return false;
      if (ctx.has(m.obs.id, 'unstoppable')) return false;
      const b = m.record.bypass;
      return !(b !== undefined && b.at >= rec.since && b.result === 'present');
    });
    if (pending.length === 0) continue;
    done = false;
    const inFlight = pending.filter((m) => m.record.state === 'draining' || m.record.state === 'stopping');
    if (t.stop.synchronous && inFlight.length > 0) {
      ctx.why.push(`tier ${t.name}: synchronous stop waits for ${inFlight.map((m) => m.obs.id).join(', ')}`);
      continue;
    }
    let acted = 0;
    for (const m of pending) {
      if (t.stop.synchronous && acted > 0) break;
      if (m.record.state !== 'running') continue; // initializing is never drained; starting/unuseable wait
      if (t.bypassFile !== null) {
        const b = m.record.bypass;
        const fresh = b !== undefined && b.at >= rec.since && b.result !== 'unknown';
        if (!fresh) {
          const sent = m.record.bypassCheckSentAt;
          if (sent === undefined || sent < rec.since || ctx.now - sent >= ctx.settings.scriptTimeoutMs + CHECK_MARGIN_MS) {
            ctx.command({ kind: 'check-bypass', path: t.bypassFile.path, os: t.bypassFile.os, instances: [m.obs.id], reason: `tier stop: ${t.name}` });
            ctx.patch(m, { bypassCheckSentAt: ctx.now });
          }
          if (b?.result === 'unknown' && b.at >= rec.since) ctx.why.push(`${m.obs.id}: bypass check failed; not stopped until the file is confirmed absent`);
          acted++;
          continue;
        }
        if (b.result === 'present') continue;
      }
      if (!ctx.takeDrain()) {
        ctx.why.push(`tier ${t.name}: drains deferred: drains-per-tick cap reached`);
        break;
      }
      beginDrain(ctx, m, 'tier-stop', `tier stop: ${t.name} (stop sequence ${t.stop.sequence})`);
      acted++;
    }
  }
  return done;
}

/**
 * Tier orchestration of a workload: tiers start in start-sequence order and stop in stop-sequence order, each
 * step waiting for the previous one (readiness gate on start; stopped, bypassed or ignored on stop).
 */
export function applyTiers(ctx: PlanContext, prior: WorkloadRecord | undefined): WorkloadRecord | undefined {
  const workload = ctx.group.workload;
  if (workload === null) return prior;
  if (ctx.settings.killSwitch) {
    ctx.why.push('workload: kill switch on: no action');
    return prior;
  }
  const state = ctx.settings.workloadState;
  if (state === 'undefined') {
    ctx.why.push('workload: state undefined: hands off');
    return prior;
  }
  const direction = state === 'running' ? 'start' : 'stop';
  const request = requestOf(ctx);
  // An aborted start is tried again once workload.state is set anew (another override, schedule period or window).
  const retry = prior?.abortedAt !== undefined && prior.abortedAt.request !== request;
  let rec: WorkloadRecord = prior?.direction === direction && !retry ? prior : { group: ctx.group.name, direction, since: ctx.now, tierStartedAt: {} };
  const members = new Map<string, Member[]>();
  const tierNames = new Set(workload.tiers.map((t) => t.name));
  for (const m of ctx.members) {
    if (m.tier === undefined || !tierNames.has(m.tier)) continue;
    members.set(m.tier, [...(members.get(m.tier) ?? []), m]);
  }
  const untiered = ctx.members.filter((m) => m.tier === undefined || !tierNames.has(m.tier)).length;
  if (untiered > 0) ctx.why.push(`workload: ${untiered} instance(s) without a known ${workload.tierTag} tag are left alone`);

  if (direction === 'start') {
    if (rec.abortedAt !== undefined) {
      ctx.why.push(`workload: start sequence aborted (${rec.abortedAt.reason})`);
      return rec;
    }
    for (const step of steps(workload.tiers, 'start')) {
      const r = startStep(ctx, step, members, rec);
      rec = r.rec;
      if (!r.proceed) break;
    }
    return rec;
  }
  const blocker = ctx.resolved.windows.stopBlocker({ kind: 'main' });
  if (blocker !== null) {
    ctx.why.push(`workload: tier stop ${blocker}`);
    return rec;
  }
  for (const step of steps(workload.tiers, 'stop')) {
    if (!stopStep(ctx, step, members, rec)) break;
  }
  return rec;
}

// ---------------------------------------------------------------- the plan shown before acting (workload start|stop)

/** What a start or stop sequence will do to one instance, and why. */
export interface PlannedInstance {
  readonly instance: string;
  readonly state: LifecycleState;
  /** `start` / `stop`: the sequence acts on it; `none`: already there; `bypass`: left as it is, `why` says so. */
  readonly action: 'start' | 'stop' | 'none' | 'bypass';
  readonly why: string;
}

export interface PlannedTier {
  readonly name: string;
  readonly synchronous: boolean;
  /** How the tier is gated: readiness and its timeout (start), the bypass file or ignoreStop (stop). */
  readonly notes: readonly string[];
  readonly instances: readonly PlannedInstance[];
}

/** One step: the tiers sharing a sequence number, acted on together; the next step waits for it. */
export interface PlannedStep {
  readonly sequence: number;
  readonly tiers: readonly PlannedTier[];
}

export interface SequencePlan {
  readonly direction: 'start' | 'stop';
  /** Why nothing will happen now (kill switch; a window holding a stop), or null. */
  readonly blocked: string | null;
  readonly steps: readonly PlannedStep[];
  /** Instances of the group in no tier of the workload: left alone. */
  readonly untiered: readonly PlannedInstance[];
  readonly notes: readonly string[];
}

export interface SequenceInput {
  readonly workload: WorkloadConfig;
  readonly direction: 'start' | 'stop';
  /** The group's instance records (the tier each was last seen in is on the record). */
  readonly records: readonly InstanceRecord[];
  readonly controls: readonly Control[];
  readonly resolved: Resolved;
  readonly progress: WorkloadRecord | undefined;
  readonly now: number;
}

function until(c: Control): string {
  return `until ${formatInstant(c.until)}: ${c.reason}`;
}

function plannedStart(r: InstanceRecord, t: TierConfig, controls: readonly Control[], now: number): PlannedInstance {
  const base = { instance: r.instanceId, state: r.state };
  const control = (kind: Control['kind']): Control | undefined => controls.find((c) => c.instanceId === r.instanceId && c.kind === kind && c.until > now);
  const excluded = control('excluded');
  if (r.state === 'excluded' || excluded !== undefined) return { ...base, action: 'bypass', why: excluded === undefined ? r.reason : `excluded ${until(excluded)}` };
  switch (r.state) {
    case 'running':
    case 'initializing':
    case 'starting':
      return { ...base, action: 'none', why: `already ${r.state}` };
    case 'unuseable':
      return { ...base, action: 'bypass', why: `unuseable (${r.reason}); the tier's readiness gate waits for it up to ${formatDuration(t.start.readinessTimeoutMs)}` };
    case 'draining':
      return { ...base, action: 'start', why: 'drain cancelled: back in service' };
    case 'stopped':
    case 'stopping': {
      const unstartable = control('unstartable');
      if (unstartable !== undefined) return { ...base, action: 'bypass', why: `unstartable ${until(unstartable)}` };
      if (r.errorUntil !== undefined && r.errorUntil > now) return { ...base, action: 'bypass', why: `error back-off until ${formatInstant(r.errorUntil)} (${r.lastError ?? 'last action failed'})` };
      return { ...base, action: 'start', why: r.state === 'stopping' ? 'started once its stop completes' : 'started' };
    }
  }
}

function plannedStop(r: InstanceRecord, t: TierConfig, controls: readonly Control[], progress: WorkloadRecord | undefined, now: number): PlannedInstance {
  const base = { instance: r.instanceId, state: r.state };
  const control = (kind: Control['kind']): Control | undefined => controls.find((c) => c.instanceId === r.instanceId && c.kind === kind && c.until > now);
  const excluded = control('excluded');
  if (r.state === 'excluded' || excluded !== undefined) return { ...base, action: 'bypass', why: excluded === undefined ? r.reason : `excluded ${until(excluded)}` };
  if (r.state === 'stopped' || r.state === 'stopping') return { ...base, action: 'none', why: `already ${r.state}` };
  if (t.ignoreStop) return { ...base, action: 'bypass', why: 'tier ignoreStop: left running' };
  const unstoppable = control('unstoppable');
  if (unstoppable !== undefined) return { ...base, action: 'bypass', why: `unstoppable ${until(unstoppable)}` };
  const b = r.bypass;
  if (t.bypassFile !== null && b?.result === 'present' && progress?.direction === 'stop' && b.at >= progress.since) return { ...base, action: 'bypass', why: `bypass file ${t.bypassFile.path} present (checked ${formatInstant(b.at)})` };
  switch (r.state) {
    case 'draining':
      return { ...base, action: 'stop', why: 'draining: stopped once drained' };
    case 'initializing':
    case 'starting':
      return { ...base, action: 'stop', why: `${r.state}: drained and stopped once ready (never while initializing)` };
    case 'unuseable':
      return { ...base, action: 'stop', why: 'unuseable: drained after its grace, then stopped' };
    case 'running':
      return { ...base, action: 'stop', why: t.bypassFile === null ? 'drained, then stopped' : `drained and stopped unless ${t.bypassFile.path} exists in the guest (checked first; a failed check keeps it running)` };
  }
}

/**
 * The ordered plan of a start or stop sequence, from the stored records — what `fleetwarden workload start|stop`
 * prints before it acts: tier by tier in sequence order, the instances each step acts on, those already there, and
 * those bypassed with why. Pure; the planner itself (applyTiers) carries the sequence out tick by tick.
 */
export function sequencePlan(input: SequenceInput): SequencePlan {
  const { workload, direction, now } = input;
  const tierNames = new Set(workload.tiers.map((t) => t.name));
  const notes: string[] = [];
  let blocked: string | null = null;
  if (input.resolved.settings.killSwitch) blocked = 'workload.killSwitch is on: no action on the workload until it is lifted';
  else if (direction === 'stop') blocked = input.resolved.windows.stopBlocker({ kind: 'main' });
  if (direction === 'start' && input.progress?.direction === 'start' && input.progress.abortedAt !== undefined) notes.push(`the last start sequence was aborted (${input.progress.abortedAt.reason}); setting workload.state anew starts it over`);
  const byTier = new Map<string, InstanceRecord[]>();
  const untiered: PlannedInstance[] = [];
  for (const r of [...input.records].sort((a, b) => compareIds(a.instanceId, b.instanceId))) {
    if (r.tier === undefined || !tierNames.has(r.tier)) {
      untiered.push({ instance: r.instanceId, state: r.state, action: 'bypass', why: r.tier === undefined ? `no ${workload.tierTag} tag: in no tier, left alone` : `${workload.tierTag}=${r.tier} is not a tier of the workload: left alone` });
      continue;
    }
    byTier.set(r.tier, [...(byTier.get(r.tier) ?? []), r]);
  }
  const ordered = steps(workload.tiers, direction);
  const planned = ordered.map((step, n): PlannedStep => ({
    sequence: step[0]?.[direction].sequence ?? 0,
    tiers: step.map((t): PlannedTier => {
      const tierNotes: string[] = [];
      if (direction === 'start' && n < ordered.length - 1) tierNotes.push(`the next step waits until every instance is running and healthy in its target groups, up to ${formatDuration(t.start.readinessTimeoutMs)}, then ${t.start.onTimeout === 'abort' ? 'the sequence is aborted' : 'goes on'}`);
      else if (t.ignoreStop) tierNotes.push('ignoreStop: the tier is left running');
      else if (t.bypassFile !== null) tierNotes.push(`bypass file ${t.bypassFile.path} (${t.bypassFile.os}) checked in each guest before its stop`);
      return {
        name: t.name,
        synchronous: t[direction].synchronous,
        notes: tierNotes,
        instances: (byTier.get(t.name) ?? []).map((r) => (direction === 'start' ? plannedStart(r, t, input.controls, now) : plannedStop(r, t, input.controls, input.progress, now))),
      };
    }),
  }));
  return { direction, blocked, steps: planned, untiered, notes };
}
