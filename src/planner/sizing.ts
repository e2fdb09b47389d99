import { type FleetRef, fleetLabel } from '../config/resolve.js';
import { type Count, formatCount, isFull, resolveCount } from '../domain/counts.js';
import { isActive } from '../domain/lifecycle.js';
import type { Member, PlanContext } from './context.js';
import { beginDrain, reclaim, start, stopBlocker } from './lifecycle.js';
import { compareIds } from '../domain/text.js';

/** The size a fleet should have now, and how it was derived. `target` null = hands off. */
export interface FleetTarget {
  readonly fleet: FleetRef;
  readonly members: readonly Member[];
  readonly target: number | null;
  /** 100%: every instance runs, LightHouse ones too; no shelving, no issue drains. */
  readonly full: boolean;
  readonly explain: string;
  readonly drainCause: 'scale-in' | 'subfleet-stopped';
}

function fleetKey(f: FleetRef): string {
  return f.kind === 'main' ? 'main' : `subfleet:${f.name}`;
}

function sized(min: Count, desired: Count, total: number): { target: number; explain: string } {
  const m = resolveCount(min, total);
  const d = resolveCount(desired, total);
  const show = (c: Count, n: number): string => (c.kind === 'percent' ? `${formatCount(c)} of ${total} = ${n}` : String(n));
  return { target: Math.max(m, d), explain: `desired ${show(desired, d)}, min ${show(min, m)}` };
}

/** Targets of every fleet of the group (instances not excluded), from the effective settings. */
export function fleetTargets(ctx: PlanContext): FleetTarget[] {
  const byFleet = new Map<string, { fleet: FleetRef; members: Member[] }>();
  for (const m of ctx.members) {
    if (m.record.state === 'excluded') continue;
    const key = fleetKey(m.fleet);
    const entry = byFleet.get(key) ?? { fleet: m.fleet, members: [] };
    entry.members.push(m);
    byFleet.set(key, entry);
  }
  const out: FleetTarget[] = [];
  for (const { fleet, members } of byFleet.values()) {
    const total = members.length;
    if (fleet.kind === 'main') {
      const desired = ctx.settings.mainDesired;
      const min = ctx.settings.mainMin;
      if (desired === null) {
        out.push({ fleet, members, target: null, full: false, explain: 'desired unset: not sized', drainCause: 'scale-in' });
        continue;
      }
      const { target, explain } = sized(min, desired, total);
      out.push({ fleet, members, target, full: isFull(desired) || isFull(min), explain, drainCause: 'scale-in' });
      continue;
    }
    const sf = ctx.settings.subfleet(fleet.name);
    switch (sf.state) {
      case 'undefined':
        out.push({ fleet, members, target: null, full: false, explain: 'state undefined: hands off', drainCause: 'subfleet-stopped' });
        break;
      case 'stopped':
        out.push({ fleet, members, target: 0, full: false, explain: 'state stopped', drainCause: 'subfleet-stopped' });
        break;
      case 'running': {
        const { target, explain } = sized(sf.min, sf.desired, total);
        out.push({ fleet, members, target, full: isFull(sf.desired) || isFull(sf.min), explain: `state running, ${explain}`, drainCause: 'scale-in' });
        break;
      }
    }
  }
  return out;
}

/**
 * LightHouse split of the main fleet (seed 000): LightHouse instances fill the minimum while the target is low,
 * count = max(min − max(target − min, 0), 0); at 100% everything runs.
 */
function lightHouseSplit(ctx: PlanContext, t: FleetTarget, target: number): { lighthouse: number; normal: number } {
  const lhAvailable = t.members.filter((m) => m.lighthouse).length;
  const normalAvailable = t.members.length - lhAvailable;
  if (t.full) return { lighthouse: lhAvailable, normal: normalAvailable };
  const min = resolveCount(ctx.settings.mainMin, t.members.length);
  let lighthouse = Math.min(Math.max(min - Math.max(target - min, 0), 0), lhAvailable);
  const normal = Math.min(target - lighthouse, normalAvailable);
  if (lighthouse + normal < target) lighthouse = Math.min(lhAvailable, target - normal);
  return { lighthouse, normal };
}

/** Orders start candidates so each pick goes to the availability zone with the fewest active instances. */
function spreadAcrossZones(candidates: readonly Member[], fleetMembers: readonly Member[]): Member[] {
  const perZone = new Map<string, number>();
  for (const m of fleetMembers) if (isActive(m.record.state)) perZone.set(m.obs.zone, (perZone.get(m.obs.zone) ?? 0) + 1);
  const pool = [...candidates].sort((a, b) => compareIds(a.obs.id, b.obs.id));
  const ordered: Member[] = [];
  while (pool.length > 0) {
    let best = 0;
    for (let i = 1; i < pool.length; i++) {
      const zi = perZone.get(pool[i]?.obs.zone ?? '') ?? 0;
      const zb = perZone.get(pool[best]?.obs.zone ?? '') ?? 0;
      if (zi < zb) best = i;
    }
    const [pick] = pool.splice(best, 1);
    if (pick === undefined) break;
    ordered.push(pick);
    perZone.set(pick.obs.zone, (perZone.get(pick.obs.zone) ?? 0) + 1);
  }
  return ordered;
}

/** Scale-in order: instances with an issue first, then from the most crowded zone, then the newest. */
function drainOrder(candidates: readonly Member[], fleetMembers: readonly Member[]): Member[] {
  const perZone = new Map<string, number>();
  for (const m of fleetMembers) if (isActive(m.record.state)) perZone.set(m.obs.zone, (perZone.get(m.obs.zone) ?? 0) + 1);
  // Each candidate's keys once, not once per comparison.
  const keyed = candidates.map((m) => ({ m, issue: m.record.issueSince === undefined ? 0 : 1, crowd: perZone.get(m.obs.zone) ?? 0 }));
  keyed.sort((a, b) => b.issue - a.issue || b.crowd - a.crowd || b.m.record.since - a.m.record.since || compareIds(a.m.obs.id, b.m.obs.id));
  return keyed.map((k) => k.m);
}

/** Brings one class of a fleet (LightHouse or not) to `want` active instances. Returns the drains made. */
function adjustClass(ctx: PlanContext, t: FleetTarget, label: string, members: readonly Member[], want: number, spare: number): number {
  const active = members.filter((m) => isActive(m.record.state));
  const name = fleetLabel(t.fleet);
  if (active.length < want) {
    let need = want - active.length;
    const reason = `scale-out: ${name} target ${t.target ?? 0} (${t.explain}); ${label}${active.length} of ${want} active`;
    // Reclaim what is still draining for capacity reasons before starting anything: it is up and warm.
    for (const m of members) {
      if (need === 0) break;
      if (m.record.state === 'draining' && (m.record.drainCause === 'scale-in' || m.record.drainCause === 'subfleet-stopped' || m.record.drainCause === 'tier-stop')) {
        reclaim(ctx, m, `drain cancelled: ${reason}`);
        need--;
      }
    }
    const stopped = members.filter((m) => m.record.state === 'stopped');
    const startable = stopped.filter((m) => !ctx.has(m.obs.id, 'unstartable') && !ctx.inError(m));
    for (const m of spreadAcrossZones(startable, t.members)) {
      if (need === 0) break;
      if (!ctx.takeStart()) {
        ctx.why.push(`${name}: ${need} more start(s) deferred: starts-per-tick cap ${ctx.settings.startsPerTick} reached`);
        need = 0;
        break;
      }
      start(ctx, m, reason);
      need--;
    }
    if (need > 0) {
      const unstartable = stopped.filter((m) => ctx.has(m.obs.id, 'unstartable')).length;
      const backoff = stopped.filter((m) => ctx.inError(m)).length;
      ctx.why.push(`${name}: ${label}wants ${need} more instance(s) than can start now (${unstartable} unstartable, ${backoff} in error back-off)`);
    }
    return 0;
  }
  if (active.length <= want || t.full) return 0;
  const excess = active.length - want;
  const candidates = members.filter((m) => m.record.state === 'running' && !ctx.has(m.obs.id, 'unstoppable') && !ctx.inError(m));
  const blocker = candidates[0] === undefined ? null : stopBlocker(ctx, candidates[0]);
  if (blocker !== null) {
    ctx.why.push(`${name}: ${label}${excess} above target; ${blocker}`);
    return 0;
  }
  // Make before break: never drain below the target of ready instances while replacements are still starting.
  const allowed = Math.min(excess, spare);
  if (allowed <= 0) {
    ctx.why.push(`${name}: ${label}${excess} above target; waiting for replacements to be ready before draining`);
    return 0;
  }
  let drained = 0;
  for (const m of drainOrder(candidates, t.members)) {
    if (drained === allowed) break;
    if (!ctx.takeDrain()) {
      ctx.why.push(`${name}: drains deferred: drains-per-tick cap ${ctx.settings.drainsPerTick} reached`);
      break;
    }
    beginDrain(ctx, m, t.drainCause, `scale-in: ${name} target ${t.target ?? 0} (${t.explain}); ${label}${active.length} active, ${want} wanted`);
    drained++;
  }
  return drained;
}

/** Sizing of every fleet: starts, reclaims and scale-in drains. */
export function applySizing(ctx: PlanContext, targets: readonly FleetTarget[]): void {
  for (const t of targets) {
    if (t.target === null) {
      ctx.why.push(`${fleetLabel(t.fleet)}: ${t.explain}`);
      continue;
    }
    let spare = t.members.filter((m) => m.record.state === 'running').length - t.target;
    if (t.fleet.kind === 'main') {
      const split = lightHouseSplit(ctx, t, t.target);
      spare -= adjustClass(ctx, t, 'LightHouse: ', t.members.filter((m) => m.lighthouse), split.lighthouse, spare);
      adjustClass(ctx, t, '', t.members.filter((m) => !m.lighthouse), split.normal, spare);
    } else {
      adjustClass(ctx, t, '', t.members, t.target, spare);
    }
    const active = t.members.filter((m) => isActive(m.record.state)).length;
    ctx.why.push(`${fleetLabel(t.fleet)}: target ${t.target} (${t.explain}); ${active} active after this tick`);
  }
}
