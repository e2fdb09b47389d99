import type { TierConfig } from '../config/config.js';
import { formatDuration } from '../domain/durations.js';
import type { WorkloadRecord } from '../domain/model.js';
import type { Member, PlanContext } from './context.js';
import { beginDrain, reclaim, start } from './lifecycle.js';

/** Beyond the script timeout, how long a bypass check may go unanswered before it is sent again. */
const CHECK_MARGIN_MS = 30_000;

/** Tiers grouped by sequence number, ascending; equal numbers form one step acted on together. */
function steps(tiers: readonly TierConfig[], direction: 'start' | 'stop'): TierConfig[][] {
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
  return a.obs.id.localeCompare(b.obs.id);
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
        return { rec: { ...next, abortedAt: { tier: t.name, at: ctx.now, reason } }, proceed: false };
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
  let rec: WorkloadRecord = prior?.direction === direction ? prior : { group: ctx.group.name, direction, since: ctx.now, tierStartedAt: {} };
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
