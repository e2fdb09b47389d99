/** Safety properties of a controller, checked from outside: on the simulated cloud's own action log. */
import type { FleetConfig } from '../../src/config/config.js';
import { covers } from '../../src/config/resolve.js';
import type { SimAction } from '../../src/providers/simulator/simulator.js';

export interface InvariantOptions {
  readonly drainMinimumMs: number;
  readonly deregistrationDelayMs: number;
  readonly startAheadMs: number;
  /**
   * The controller times a drain from its decision (the tick's instant); the cloud logs the deregistration when it
   * was carried out, up to one tick later at high simulated speeds. The drain minimum is checked from the decision.
   */
  readonly tickIntervalMs?: number;
}

/**
 * Violations of: no instance stopped during a window covering its fleet; none stopped without a drain that lasted
 * the minimum drain time and the deregistration delay; no duplicate start (of a running/pending instance) or stop
 * (of a stopping/stopped instance).
 */
export function violations(actions: readonly SimAction[], tags: Readonly<Record<string, Readonly<Record<string, string>>>>, config: FleetConfig, o: InvariantOptions): string[] {
  const out: string[] = [];
  const prefix = config.naming.tagPrefix;
  const lastDeregister = new Map<string, number>();
  for (const a of actions) {
    if (!a.ok) continue;
    const t = tags[a.instanceId] ?? {};
    const group = config.groups.find((g) => g.name === t[`${prefix}:group-name`]) ?? config.groups.find((g) => g.workload?.envFilter != null && t[g.workload.envFilter.key] === g.workload.envFilter.value);
    const sub = t[`${prefix}:subfleet-name`];
    const fleet = sub === undefined ? ({ kind: 'main' } as const) : ({ kind: 'subfleet', name: sub } as const);
    const when = new Date(a.at).toISOString();
    switch (a.action) {
      case 'deregister':
        if (!lastDeregister.has(a.instanceId)) lastDeregister.set(a.instanceId, a.at);
        break;
      case 'register':
      case 'start':
        lastDeregister.delete(a.instanceId);
        if (a.action === 'start' && (a.detail === 'running' || a.detail === 'pending')) out.push(`${when} ${a.instanceId}: duplicate start (already ${a.detail})`);
        break;
      case 'stop': {
        if (a.detail === 'stopping' || a.detail === 'stopped') out.push(`${when} ${a.instanceId}: duplicate stop (already ${a.detail})`);
        for (const w of group?.windows ?? []) {
          if (covers(w.scope, fleet) && w.schedule?.windowAt(a.at, o.startAheadMs)) out.push(`${when} ${a.instanceId}: stopped during window ${w.name}`);
        }
        const since = lastDeregister.get(a.instanceId);
        if (since === undefined) out.push(`${when} ${a.instanceId}: stopped without being drained`);
        else if (a.at - since < o.deregistrationDelayMs) out.push(`${when} ${a.instanceId}: stopped ${(a.at - since) / 1000}s after deregistration, before it could finish`);
        else if (a.at - since < o.drainMinimumMs - (o.tickIntervalMs ?? 0)) out.push(`${when} ${a.instanceId}: stopped ${(a.at - since) / 1000}s after its drain began`);
        break;
      }
      case 'run-event':
      case 'check-bypass':
      case 'run-script':
      case 'cancel-script':
        break;
    }
  }
  return out;
}

/** From the simulated cloud's action log: the most instances out of their target groups at once, and who is still out. */
export function outOfService(actions: readonly SimAction[]): { max: number; still: Set<string> } {
  const still = new Set<string>();
  let max = 0;
  for (const a of actions) {
    if (a.action === 'deregister') still.add(a.instanceId);
    if (a.action === 'register') still.delete(a.instanceId);
    max = Math.max(max, still.size);
  }
  return { max, still };
}
