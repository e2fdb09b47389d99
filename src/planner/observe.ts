import type { FleetRef } from '../config/resolve.js';
import type { InstanceRecord, ObservedInstance } from '../domain/model.js';
import { formatInstant } from '../domain/time.js';
import type { Member, PlanContext } from './context.js';
import type { PlanInput } from './types.js';

const PATTERNS = new Map<string, RegExp>();

/** Instance-type patterns such as `t3.*` or `t4g.nano`: `*` and `?` wildcards, nothing else special. */
export function typeMatches(pattern: string, type: string): boolean {
  let re = PATTERNS.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    // The patterns come from the configuration (a handful): compiled once, not once per instance per tick.
    if (PATTERNS.size < 1000) PATTERNS.set(pattern, re);
  }
  return re.test(type);
}

/** Grace for a just-issued start to show up as `pending` before the record gives up on it. */
const START_GRACE_MS = 60_000;

/** The main fleet's reference, shared: FleetRefs are never changed in place. */
const MAIN: FleetRef = { kind: 'main' };

function fleetOf(obs: ObservedInstance, subfleetTag: string): FleetRef {
  const sub = obs.tags[subfleetTag];
  return sub === undefined || sub === '' ? MAIN : { kind: 'subfleet', name: sub };
}

function freshRecord(obs: ObservedInstance, group: string, now: number): InstanceRecord {
  switch (obs.power) {
    case 'pending':
      return { instanceId: obs.id, group, state: 'starting', since: now, reason: 'first seen starting' };
    case 'running':
      return { instanceId: obs.id, group, state: 'initializing', since: now, reason: 'first seen running: readiness to be confirmed' };
    case 'stopping':
    case 'stopped':
    case 'terminated':
      return { instanceId: obs.id, group, state: 'stopped', since: now, reason: 'first seen stopped' };
  }
}

/** Builds the members of the group from what was observed and the stored records, and applies late results. */
export function observe(ctx: PlanContext, input: PlanInput): void {
  const { now } = ctx;
  const prefix = ctx.naming.tagPrefix;
  const tierTag = ctx.group.workload?.tierTag;
  // Tag keys spelled once per group, not once per instance.
  const lighthouseTag = `${prefix}:lighthouse`;
  const subfleetTag = `${prefix}:subfleet-name`;
  const { tagged, instanceTypes } = ctx.group.lighthouse;
  for (const obs of input.instances) {
    if (obs.power === 'terminated') continue; // gone for good: its record is dropped
    const lighthouse = (tagged && obs.tags[lighthouseTag] === 'true') || (instanceTypes.length > 0 && instanceTypes.some((p) => typeMatches(p, obs.instanceType)));
    const tier = tierTag === undefined ? undefined : obs.tags[tierTag];
    const known = input.records.get(obs.id) ?? freshRecord(obs, ctx.group.name, now);
    // The tier is remembered so a plan can be shown from the store alone (`workload start|stop --dry-run`).
    const record = known.tier === tier ? known : { ...known, tier };
    ctx.members.push({ obs, record, fleet: fleetOf(obs, subfleetTag), lighthouse, tier });
  }
  const byId = new Map(ctx.members.map((m) => [m.obs.id, m]));

  for (const f of input.failures) {
    const m = byId.get(f.instanceId);
    if (!m) continue;
    const until = f.at + ctx.settings.lifecycle('errorBackoff');
    ctx.patch(m, { errorUntil: until, lastError: `${f.action} failed: ${f.detail}` });
    ctx.why.push(`${m.obs.id}: ${f.action} failed (${f.detail}); not retried before ${formatInstant(until)}`);
  }
  for (const r of input.eventResults) {
    const m = byId.get(r.instanceId);
    const prior = m?.record.events?.[r.event];
    if (!m || prior?.status !== 'sent') continue; // a result for a round that already ended
    const detail = r.detail === undefined ? {} : { detail: r.detail };
    ctx.patch(m, { events: { ...m.record.events, [r.event]: { ...prior, status: r.ok ? 'success' : 'failed', ...detail } } });
  }
  for (const b of input.bypassResults) {
    const m = byId.get(b.instanceId);
    if (m) ctx.patch(m, { bypass: { result: b.result, at: b.at }, bypassCheckSentAt: undefined });
  }

  const excludedTag = `${prefix}:excluded`;
  for (const m of ctx.members) syncWithProvider(ctx, m, input.quarantined, excludedTag);
}

function isExcluded(ctx: PlanContext, m: Member, excludedTag: string): boolean {
  return m.obs.tags[excludedTag] === 'true' || ctx.has(m.obs.id, 'excluded');
}

/** Why the instance is hands off, or null. */
function handsOff(ctx: PlanContext, m: Member, quarantined: ReadonlyMap<string, string> | undefined, excludedTag: string): string | null {
  const bad = quarantined?.get(m.obs.id);
  if (bad !== undefined) return `excluded: hands off: ${bad}`;
  return isExcluded(ctx, m, excludedTag) ? 'excluded: hands off (tag or control)' : null;
}

/** Aligns the lifecycle record with the provider's power state: the world is the truth. */
function syncWithProvider(ctx: PlanContext, m: Member, quarantined: ReadonlyMap<string, string> | undefined, excludedTag: string): void {
  const { now } = ctx;
  const power = m.obs.power;
  const state = m.record.state;
  const off = handsOff(ctx, m, quarantined, excludedTag);
  if (off !== null) {
    if (state !== 'excluded') ctx.move(m, 'excluded', off);
    return;
  }
  const up = power === 'running' || power === 'pending';
  switch (state) {
    case 'excluded':
      ctx.move(m, up ? 'initializing' : 'stopped', `no longer excluded; observed ${power}`);
      return;
    case 'stopped':
      if (up) ctx.move(m, 'initializing', `observed ${power}: started outside Fleetwarden`, { notifiedPeriod: undefined });
      return;
    case 'starting':
      if (power === 'running') ctx.move(m, 'initializing', 'observed running after start');
      else if ((power === 'stopped' || power === 'stopping') && now - m.record.since > START_GRACE_MS) ctx.move(m, 'stopped', `start did not take: still ${power}`);
      return;
    case 'stopping':
      if (power === 'stopped') ctx.move(m, 'stopped', m.record.forcedStop === true ? 'stopped (forced: shutdown probe never succeeded)' : 'stopped', { notifiedPeriod: undefined });
      return;
    case 'initializing':
    case 'running':
    case 'draining':
    case 'unuseable':
      if (power === 'stopped') ctx.move(m, 'stopped', 'observed stopped outside Fleetwarden', { notifiedPeriod: undefined });
      else if (power === 'stopping') ctx.move(m, 'stopping', 'observed stopping outside Fleetwarden');
      return;
  }
}
