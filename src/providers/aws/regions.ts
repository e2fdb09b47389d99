/**
 * Workloads in other regions (seed 003 `Region`): the controller talks to one set of adapters per region, and these
 * composites present them as the single FleetProvider, LoadBalancer and CommandRunner the reconciler knows. No SDK
 * here: each region's adapters are built by the composition root (src/app/aws.ts).
 *
 * - Instances: each region is listed with the same tag keys; an instance is kept only when a group living in that
 *   region selects it (an instance id exists in one region, so no instance is seen twice), and start/stop go to the
 *   region it was listed in.
 * - Target groups: every region's managed target groups; (de)registration goes to the region in the target group's ARN.
 * - Commands: by the group they are for (its region and its SSM output bucket), results likewise (a handle names its
 *   group), so a handle is always read back by the adapter that sent it.
 */
import type { GroupConfig } from '../../config/config.js';
import { InvariantError } from '../../domain/errors.js';
import type { EventName, ObservedInstance, TargetHealth } from '../../domain/model.js';
import type { ActionResult, CommandHandle, CommandResults, CommandRunner, FleetProvider, LoadBalancer, ScriptOptions, TagSelector } from '../../ports/index.js';

/** The region key of the default region (aws.region, or the SDK's default chain). */
export const DEFAULT_REGION = '';

/** A group's region key: its workload's region, or the default. */
export function regionOf(g: GroupConfig, defaultRegion: string | undefined): string {
  const r = g.workload?.region ?? null;
  return r === null || r === defaultRegion ? DEFAULT_REGION : r;
}

/** The instances of `listed` that a group living in `region` selects (the composition root knows the groups). */
export type RegionFilter = (region: string, listed: readonly ObservedInstance[]) => ReadonlySet<string>;

export class RegionalFleet implements FleetProvider {
  private readonly providers: ReadonlyMap<string, FleetProvider>;
  private readonly keep: RegionFilter;
  /** Where each instance was last listed. */
  private readonly where = new Map<string, string>();

  /** `providers` by region key (the default region is DEFAULT_REGION). */
  constructor(providers: ReadonlyMap<string, FleetProvider>, keep: RegionFilter) {
    this.providers = providers;
    this.keep = keep;
  }

  async listInstances(tagKeys: readonly string[], select?: readonly TagSelector[]): Promise<ObservedInstance[]> {
    const out: ObservedInstance[] = [];
    this.where.clear();
    for (const [region, provider] of this.providers) {
      const listed = await provider.listInstances(tagKeys, select);
      // Only groups living here select an instance here: `web` in eu-west-1 does not take a `web`-tagged instance in us-west-2.
      const mine = this.keep(region, listed);
      for (const i of listed) {
        if (!mine.has(i.id)) continue;
        out.push(i);
        this.where.set(i.id, region);
      }
    }
    return out;
  }

  private async byRegion(ids: readonly string[], act: (p: FleetProvider, ids: readonly string[]) => Promise<ActionResult[]>): Promise<ActionResult[]> {
    const split = new Map<string, string[]>();
    for (const id of ids) {
      const r = this.where.get(id) ?? DEFAULT_REGION;
      split.set(r, [...(split.get(r) ?? []), id]);
    }
    const out: ActionResult[] = [];
    for (const [r, list] of split) {
      const p = this.providers.get(r);
      if (p === undefined) out.push(...list.map((id) => ({ instanceId: id, ok: false, detail: `no adapter for region ${r}` })));
      else out.push(...(await act(p, list)));
    }
    return out;
  }

  start(ids: readonly string[]): Promise<ActionResult[]> {
    return this.byRegion(ids, (p, list) => p.start(list));
  }

  stop(ids: readonly string[], options: { readonly force: boolean }): Promise<ActionResult[]> {
    return this.byRegion(ids, (p, list) => p.stop(list, options));
  }
}

/** The region of an ELBv2 ARN (`arn:aws:elasticloadbalancing:us-west-2:…`), or null. */
function arnRegion(arn: string): string | null {
  return /^arn:[^:]+:elasticloadbalancing:([^:]+):/.exec(arn)?.[1] ?? null;
}

export class RegionalLoadBalancer implements LoadBalancer {
  private readonly lbs: ReadonlyMap<string, LoadBalancer>;
  private readonly defaultRegion: string | undefined;

  constructor(lbs: ReadonlyMap<string, LoadBalancer>, defaultRegion: string | undefined) {
    this.lbs = lbs;
    this.defaultRegion = defaultRegion;
  }

  private forArn(arn: string): LoadBalancer {
    const r = arnRegion(arn);
    const key = r === null || r === this.defaultRegion ? DEFAULT_REGION : r;
    const lb = this.lbs.get(key) ?? this.lbs.get(DEFAULT_REGION);
    if (lb === undefined) throw new InvariantError('no load balancer adapter for the default region');
    return lb;
  }

  async targetHealth(): Promise<Map<string, Record<string, TargetHealth>>> {
    const out = new Map<string, Record<string, TargetHealth>>();
    for (const lb of this.lbs.values()) for (const [id, h] of await lb.targetHealth()) out.set(id, { ...out.get(id), ...h });
    return out;
  }

  register(targetGroup: string, ids: readonly string[]): Promise<void> {
    return this.forArn(targetGroup).register(targetGroup, ids);
  }

  deregister(targetGroup: string, ids: readonly string[]): Promise<void> {
    return this.forArn(targetGroup).deregister(targetGroup, ids);
  }

  async deregistrationDelays(): Promise<ReadonlyMap<string, number>> {
    const out = new Map<string, number>();
    for (const lb of this.lbs.values()) for (const [tg, ms] of await lb.deregistrationDelays()) out.set(tg, ms);
    return out;
  }
}

export class RegionalRunner implements CommandRunner {
  private readonly byGroup: ReadonlyMap<string, CommandRunner>;
  private readonly fallback: CommandRunner;

  /** `byGroup`: the runner of each group (its region and SSM output); `fallback` for any other. */
  constructor(byGroup: ReadonlyMap<string, CommandRunner>, fallback: CommandRunner) {
    this.byGroup = byGroup;
    this.fallback = fallback;
  }

  private of(group: string): CommandRunner {
    return this.byGroup.get(group) ?? this.fallback;
  }

  runEvent(group: string, ids: readonly string[], event: EventName, args: readonly string[], timeoutMs: number): Promise<CommandHandle> {
    return this.of(group).runEvent(group, ids, event, args, timeoutMs);
  }

  checkBypass(group: string, ids: readonly string[], path: string, os: 'linux' | 'windows'): Promise<CommandHandle> {
    return this.of(group).checkBypass(group, ids, path, os);
  }

  runScript(group: string, instanceId: string, commandId: string, script: string, timeoutMs: number, options: ScriptOptions): Promise<CommandHandle> {
    return this.of(group).runScript(group, instanceId, commandId, script, timeoutMs, options);
  }

  cancel(handle: CommandHandle, instanceId: string): Promise<void> {
    return this.of(handle.group).cancel(handle, instanceId);
  }

  async results(handles: readonly CommandHandle[]): Promise<CommandResults> {
    const split = new Map<CommandRunner, CommandHandle[]>();
    for (const h of handles) {
      const r = this.of(h.group);
      split.set(r, [...(split.get(r) ?? []), h]);
    }
    const out: Required<CommandResults> = { events: [], bypass: [], scripts: [], finished: [] };
    for (const [runner, list] of split) {
      const r = await runner.results(list);
      out.events.push(...r.events);
      out.bypass.push(...r.bypass);
      out.scripts.push(...(r.scripts ?? []));
      out.finished.push(...r.finished);
    }
    return out;
  }
}
