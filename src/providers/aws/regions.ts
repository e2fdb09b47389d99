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
  const r = g.aws.region;
  return r === null || r === defaultRegion ? DEFAULT_REGION : r;
}

/** The instances of `listed` that a group living in `region` selects (the composition root knows the groups). */
export type RegionFilter = (region: string, listed: readonly ObservedInstance[]) => ReadonlySet<string>;

export class RegionalFleet implements FleetProvider {
  private readonly providers: ReadonlyMap<string, FleetProvider>;
  private readonly keep: RegionFilter;
  /** Where each instance was last listed. */
  private readonly where = new Map<string, string>();

  private readonly groupsAt: (key: string) => readonly string[];
  private failures = new Map<string, Error>();

  /**
   * `providers` by location key (the default region is DEFAULT_REGION; another account's role is a key of its own);
   * `groupsAt`: the groups living at a key, told they were not observed when their key fails.
   */
  constructor(providers: ReadonlyMap<string, FleetProvider>, keep: RegionFilter, groupsAt: (key: string) => readonly string[] = () => []) {
    this.providers = providers;
    this.keep = keep;
    this.groupsAt = groupsAt;
  }

  unobserved(): ReadonlyMap<string, Error> {
    return this.failures;
  }

  async listInstances(tagKeys: readonly string[], select?: readonly TagSelector[]): Promise<ObservedInstance[]> {
    const out: ObservedInstance[] = [];
    this.where.clear();
    const failures = new Map<string, Error>();
    let first: Error | null = null;
    let read1 = false;
    for (const [region, provider] of this.providers) {
      let listed: ObservedInstance[];
      try {
        listed = await provider.listInstances(tagKeys, select);
        read1 = true;
      } catch (err) {
        // One account or region failing (AssumeRole denied, throttled) fails its own groups, not the others'.
        const e = err instanceof Error ? err : new Error(String(err));
        first ??= e;
        for (const g of this.groupsAt(region)) failures.set(g, e);
        continue;
      }
      // Only groups living here select an instance here: `web` in eu-west-1 does not take a `web`-tagged instance in us-west-2.
      const mine = this.keep(region, listed);
      for (const i of listed) {
        if (!mine.has(i.id)) continue;
        out.push(i);
        this.where.set(i.id, region);
      }
    }
    // Nothing read at all: the listing failed as a whole (the executor retries it as before).
    if (first !== null && !read1) throw first;
    this.failures = failures;
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

/** The account of an ELBv2 ARN, or null. */
export function arnAccount(arn: string): string | null {
  return /^arn:[^:]+:elasticloadbalancing:[^:]*:(\d{12}):/.exec(arn)?.[1] ?? null;
}

export class RegionalLoadBalancer implements LoadBalancer {
  private readonly lbs: ReadonlyMap<string, LoadBalancer>;
  private readonly defaultRegion: string | undefined;
  private readonly route: (arn: string) => string | null;
  private readonly groupsAt: (key: string) => readonly string[];
  private failures = new Map<string, Error>();

  /**
   * `route`: the location key of a target group's ARN when its account is another one's (a spoke role); null: by
   * its region, as before. `groupsAt` as RegionalFleet's.
   */
  constructor(lbs: ReadonlyMap<string, LoadBalancer>, defaultRegion: string | undefined, route: (arn: string) => string | null = () => null, groupsAt: (key: string) => readonly string[] = () => []) {
    this.lbs = lbs;
    this.defaultRegion = defaultRegion;
    this.route = route;
    this.groupsAt = groupsAt;
  }

  private forArn(arn: string): LoadBalancer {
    const routed = this.route(arn);
    const r = arnRegion(arn);
    const key = routed ?? (r === null || r === this.defaultRegion ? DEFAULT_REGION : r);
    const lb = this.lbs.get(key) ?? this.lbs.get(DEFAULT_REGION);
    if (lb === undefined) throw new InvariantError('no load balancer adapter for the default region');
    return lb;
  }

  unobserved(): ReadonlyMap<string, Error> {
    return this.failures;
  }

  /** Each location read on its own: one that fails marks its groups unobserved; all failing fails the read. */
  private async each<T>(read: (lb: LoadBalancer) => Promise<T>, take: (value: T) => void): Promise<void> {
    const failures = new Map<string, Error>();
    let first: Error | null = null;
    let read1 = false;
    for (const [key, lb] of this.lbs) {
      try {
        take(await read(lb));
        read1 = true;
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        first ??= e;
        for (const g of this.groupsAt(key)) failures.set(g, e);
      }
    }
    if (!read1 && first !== null) throw first;
    this.failures = failures;
  }

  async targetHealth(groups?: readonly string[]): Promise<Map<string, Record<string, TargetHealth>>> {
    const out = new Map<string, Record<string, TargetHealth>>();
    await this.each((lb) => lb.targetHealth(groups), (health) => {
      for (const [id, h] of health) out.set(id, { ...out.get(id), ...h });
    });
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
    const before = this.failures;
    await this.each((lb) => lb.deregistrationDelays(), (delays) => {
      for (const [tg, ms] of delays) out.set(tg, ms);
    });
    // Both reads' failures count (targetHealth's are not forgotten when the delays read fine).
    this.failures = new Map([...before, ...this.failures]);
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
