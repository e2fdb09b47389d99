import {
  DeregisterTargetsCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  type DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TargetHealth } from '../../domain/model.js';
import type { Clock, LoadBalancer } from '../../ports/index.js';
import type { AwsCall } from '../../ports/aws-calls.js';
import { errorKind } from '../../domain/errors.js';
import { awsCall } from './errors.js';

/** Every ELBv2 call this adapter makes (ports/aws-calls.ts): the IAM policy is generated from it. */
export const ELBV2_CALLS: readonly AwsCall[] = [
  { service: 'elasticloadbalancing', operation: 'DescribeTargetGroups', action: 'elasticloadbalancing:DescribeTargetGroups', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'elasticloadbalancing', operation: 'DescribeTags', action: 'elasticloadbalancing:DescribeTags', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'elasticloadbalancing', operation: 'DescribeTargetHealth', action: 'elasticloadbalancing:DescribeTargetHealth', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'elasticloadbalancing', operation: 'DescribeTargetGroupAttributes', action: 'elasticloadbalancing:DescribeTargetGroupAttributes', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'elasticloadbalancing', operation: 'RegisterTargets', action: 'elasticloadbalancing:RegisterTargets', features: ['fleet'], resource: { kind: 'group-target-groups' }, mutating: true },
  { service: 'elasticloadbalancing', operation: 'DeregisterTargets', action: 'elasticloadbalancing:DeregisterTargets', features: ['fleet'], resource: { kind: 'group-target-groups' }, mutating: true },
];

/** ELBv2 target states → Fleetwarden's target health. */
const HEALTH: Readonly<Record<string, TargetHealth>> = {
  initial: 'initial',
  healthy: 'healthy',
  unhealthy: 'unhealthy',
  'unhealthy.draining': 'draining',
  draining: 'draining',
  unused: 'unused',
  unavailable: 'unavailable',
};

export function targetHealthOf(state: string | undefined): TargetHealth {
  return HEALTH[state ?? ''] ?? 'unavailable';
}

export interface Elbv2Options {
  readonly client?: ElasticLoadBalancingV2Client;
  readonly clock: Clock;
  /** The tag key that marks a target group as managed (`<prefix>:group-name`). */
  readonly groupTagKey: string;
  /** Target groups are rediscovered this often [5 min]. */
  readonly discoveryRefreshMs?: number;
  /** A target group's deregistration delay is re-read this often [30 min]: it rarely changes. */
  readonly attributeRefreshMs?: number;
}

const TAGS_PER_CALL = 20; // DescribeTags takes at most 20 ARNs
/** ELBv2's own default, for a target group that does not state its delay. */
const DEFAULT_DELAY_S = 300;

/**
 * The LoadBalancer port on ELBv2. Managed target groups are those tagged with the group tag key; they are
 * rediscovered every few minutes, so a steady-state tick costs one DescribeTargetHealth per target group.
 */
export class Elbv2LoadBalancer implements LoadBalancer {
  private readonly elb: ElasticLoadBalancingV2Client;
  private readonly clock: Clock;
  private readonly groupTagKey: string;
  private readonly refreshMs: number;
  private readonly attributeRefreshMs: number;
  private managed: { arn: string; group: string }[] = [];
  private discoveredAt = -Infinity;
  private readonly delays = new Map<string, { at: number; ms: number }>();

  constructor(o: Elbv2Options) {
    this.elb = o.client ?? new ElasticLoadBalancingV2Client({});
    this.clock = o.clock;
    this.groupTagKey = o.groupTagKey;
    this.refreshMs = o.discoveryRefreshMs ?? 5 * 60_000;
    this.attributeRefreshMs = o.attributeRefreshMs ?? 30 * 60_000;
  }

  /** Every SDK call goes through here: its error leaves as a ProviderError (providers/aws/errors.ts). */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    return awsCall('elasticloadbalancing', fn);
  }

  /** The managed target groups, with the group each belongs to. */
  async targetGroups(): Promise<{ arn: string; group: string }[]> {
    const now = this.clock.now();
    if (now - this.discoveredAt < this.refreshMs) return this.managed;
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const page: DescribeTargetGroupsCommandOutput = await this.send(() => this.elb.send(new DescribeTargetGroupsCommand({ PageSize: 400, ...(marker === undefined ? {} : { Marker: marker }) })));
      for (const tg of page.TargetGroups ?? []) if (tg.TargetType === 'instance' && tg.TargetGroupArn !== undefined) arns.push(tg.TargetGroupArn);
      marker = page.NextMarker;
    } while (marker !== undefined && marker !== '');
    const managed: { arn: string; group: string }[] = [];
    for (let i = 0; i < arns.length; i += TAGS_PER_CALL) {
      const r = await this.send(() => this.elb.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + TAGS_PER_CALL) })));
      for (const d of r.TagDescriptions ?? []) {
        const group = d.Tags?.find((t) => t.Key === this.groupTagKey)?.Value;
        if (group !== undefined && d.ResourceArn !== undefined) managed.push({ arn: d.ResourceArn, group });
      }
    }
    this.managed = managed;
    this.discoveredAt = now;
    return managed;
  }

  /**
   * `groups`: read only the target groups tagged for these groups (a worker reconciling one group), not every managed
   * target group of the account-region — DescribeTargetHealth takes one target group a call, and ELBv2's Describe*
   * bucket is shared by the account-region.
   */
  async targetHealth(groups?: readonly string[]): Promise<Map<string, Record<string, TargetHealth>>> {
    const out = new Map<string, Record<string, TargetHealth>>();
    const only = groups === undefined ? null : new Set(groups);
    for (const { arn, group } of await this.targetGroups()) {
      if (only !== null && !only.has(group)) continue;
      const r = await this.send(() => this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })));
      for (const d of r.TargetHealthDescriptions ?? []) {
        const id = d.Target?.Id;
        if (id === undefined) continue;
        out.set(id, { ...out.get(id), [arn]: targetHealthOf(d.TargetHealth?.State) });
      }
    }
    return out;
  }

  async register(targetGroup: string, ids: readonly string[]): Promise<void> {
    await this.send(() => this.elb.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroup, Targets: ids.map((Id) => ({ Id })) })));
  }

  async deregister(targetGroup: string, ids: readonly string[]): Promise<void> {
    await this.send(() => this.elb.send(new DeregisterTargetsCommand({ TargetGroupArn: targetGroup, Targets: ids.map((Id) => ({ Id })) })));
  }

  /**
   * The deregistration delay (`deregistration_delay.timeout_seconds`) of every managed target group, in milliseconds.
   * DescribeTargetGroupAttributes takes one target group a call, so each is read once and re-read every
   * `attributeRefreshMs`: a steady-state tick costs nothing. A target group deleted since discovery is left out.
   */
  async deregistrationDelays(): Promise<Map<string, number>> {
    const now = this.clock.now();
    const out = new Map<string, number>();
    const managed = await this.targetGroups();
    for (const { arn } of managed) {
      let entry = this.delays.get(arn);
      if (entry === undefined || now - entry.at >= this.attributeRefreshMs) {
        try {
          const r = await this.send(() => this.elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })));
          const raw = r.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
          const seconds = raw === undefined ? DEFAULT_DELAY_S : Number(raw);
          // ELBv2 allows 0-3600 s; a value outside it is not one we can use: the group is left out.
          if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) continue;
          entry = { at: now, ms: seconds * 1000 };
        } catch (err) {
          if (errorKind(err) === 'retryable') throw err;
          continue;
        }
        this.delays.set(arn, entry);
      }
      out.set(arn, entry.ms);
    }
    for (const arn of [...this.delays.keys()]) if (!managed.some((m) => m.arn === arn)) this.delays.delete(arn);
    return out;
  }
}
