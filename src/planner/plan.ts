import type { ControlKind } from '../domain/model.js';
import { PlanContext } from './context.js';
import { applyEvents } from './events.js';
import { applyLifecycle, ensureRegistered, killSwitchOn } from './lifecycle.js';
import { observe } from './observe.js';
import { applySizing, fleetTargets } from './sizing.js';
import { applyTiers } from './tiers.js';
import type { Plan, PlanInput } from './types.js';

/**
 * The planner: a pure function of what was observed, the effective configuration, the stored records and `now`.
 * It returns what to do (commands), the lifecycle transitions it made, the next records, and why.
 */
export function plan(input: PlanInput): Plan {
  const { now } = input;
  const controls = new Map<string, Set<ControlKind>>();
  for (const c of input.controls) {
    if (c.until <= now) continue; // expired controls simply stop applying
    const set = controls.get(c.instanceId) ?? new Set<ControlKind>();
    set.add(c.kind);
    controls.set(c.instanceId, set);
  }
  // Maintenance holds an instance as an unstoppable control would, and more (see PlanContext.held).
  for (const id of input.maintenance ?? []) controls.set(id, new Set([...(controls.get(id) ?? []), 'unstoppable']));
  const ctx = new PlanContext(now, input.group, input.config.naming, input.resolved, controls, input.maintenance ?? new Set(), input.deregistrationDelays);
  ctx.why.push(...input.resolved.warnings);
  observe(ctx, input);
  const targets = input.group.workload === null ? fleetTargets(ctx) : [];
  const fullFleets = new Set(targets.filter((t) => t.full).map((t) => (t.fleet.kind === 'main' ? 'main' : t.fleet.name)));
  applyLifecycle(ctx, (m) => fullFleets.has(m.fleet.kind === 'main' ? 'main' : m.fleet.name));
  const workload = input.group.workload === null ? input.workload : applyTiers(ctx, input.workload);
  if (input.group.workload === null) applySizing(ctx, targets);
  // Registration repair runs after every decision: an instance drained this tick is not put back.
  if (!killSwitchOn(ctx)) for (const m of ctx.members) ensureRegistered(ctx, m);
  applyEvents(ctx);
  return {
    group: input.group.name,
    now,
    commands: ctx.finish(),
    transitions: ctx.transitions,
    records: ctx.members.map((m) => m.record),
    ...(workload === undefined ? {} : { workload }),
    why: ctx.why,
  };
}
