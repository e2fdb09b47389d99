import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeInstanceStatusCommand,
  type DescribeInstanceStatusCommandOutput,
  EC2Client,
  type Instance,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { errorKind } from '../../domain/errors.js';
import type { ObservedInstance, PowerState, ProviderHealth } from '../../domain/model.js';
import type { ActionResult, Clock, FleetProvider, TagSelector } from '../../ports/index.js';
import type { AwsCall } from '../../ports/aws-calls.js';
import { awsCall } from './errors.js';

/** Every EC2 call this adapter makes (ports/aws-calls.ts): the IAM policy is generated from it. */
export const EC2_CALLS: readonly AwsCall[] = [
  { service: 'ec2', operation: 'DescribeInstances', action: 'ec2:DescribeInstances', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'ec2', operation: 'DescribeInstanceStatus', action: 'ec2:DescribeInstanceStatus', features: ['fleet'], resource: { kind: 'any' }, mutating: false },
  { service: 'ec2', operation: 'StartInstances', action: 'ec2:StartInstances', features: ['fleet'], resource: { kind: 'group-instances' }, mutating: true },
  { service: 'ec2', operation: 'StopInstances', action: 'ec2:StopInstances', features: ['fleet'], resource: { kind: 'group-instances' }, mutating: true },
];

/** EC2 state names → Fleetwarden's power states (EC2 names never reach the planner); unknown names count as gone. */
const POWER: Readonly<Record<string, PowerState>> = { pending: 'pending', running: 'running', stopping: 'stopping', 'shutting-down': 'stopping', stopped: 'stopped', terminated: 'terminated' };

export function powerOf(state: string | undefined): PowerState {
  return POWER[state ?? ''] ?? 'terminated';
}

/** Instance status checks → provider health: both checks ok = ok; either impaired = impaired. */
export function healthOf(system: string | undefined, instance: string | undefined): ProviderHealth {
  if (system === 'impaired' || instance === 'impaired') return 'impaired';
  if (system === 'ok' && instance === 'ok') return 'ok';
  if (system === 'initializing' || instance === 'initializing') return 'initializing';
  return 'unknown';
}

export interface Ec2Options {
  readonly client?: EC2Client;
  readonly clock: Clock;
  /** Status checks of steady instances are refreshed this often [5 min]; new ones are checked every tick. */
  readonly statusRefreshMs?: number;
  /** Instances per StartInstances/StopInstances call [25]. */
  readonly batchSize?: number;
  readonly hibernate?: boolean;
}

const STATUS_PAGE = 100; // DescribeInstanceStatus takes at most 100 instance ids per call

/**
 * The EC2 side of the FleetProvider port. One paginated DescribeInstances, filtered on the selecting tag keys, finds
 * the instances of every group (not one call per group). Status checks cost calls of their own, so they are
 * fetched for instances that are not yet known healthy and refreshed for the others every `statusRefreshMs`.
 */
export class Ec2Provider implements FleetProvider {
  private readonly ec2: EC2Client;
  private readonly clock: Clock;
  private readonly refreshMs: number;
  private readonly batchSize: number;
  private readonly hibernate: boolean;
  private readonly health = new Map<string, ProviderHealth>();
  private lastFullRefresh = -Infinity;

  constructor(o: Ec2Options) {
    this.ec2 = o.client ?? new EC2Client({});
    this.clock = o.clock;
    this.refreshMs = o.statusRefreshMs ?? 5 * 60_000;
    this.batchSize = o.batchSize ?? 25;
    this.hibernate = o.hibernate ?? false;
  }

  /** Every SDK call goes through here: its error leaves as a ProviderError (providers/aws/errors.ts). */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    return awsCall('ec2', fn);
  }

  async listInstances(tagKeys: readonly string[], select?: readonly TagSelector[]): Promise<ObservedInstance[]> {
    const found: Instance[] = [];
    const seen = new Set<string>();
    // Several values of one filter are ORed: one paginated listing for every group and workload. Selectors of
    // different keys cannot be ORed in one call: one listing each (a group has one, or two with a workload filter).
    const listings = select === undefined ? [{ Name: 'tag-key', Values: [...tagKeys] }] : select.map((s) => ({ Name: `tag:${s.key}`, Values: [s.value] }));
    for (const filter of listings) {
      let token: string | undefined;
      do {
        const page: DescribeInstancesCommandOutput = await this.send(() =>
          this.ec2.send(
            new DescribeInstancesCommand({
              Filters: [filter, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }],
              MaxResults: 1000,
              ...(token === undefined ? {} : { NextToken: token }),
            }),
          ),
        );
        for (const r of page.Reservations ?? []) {
          for (const i of r.Instances ?? []) {
            if (seen.has(i.InstanceId ?? '')) continue;
            seen.add(i.InstanceId ?? '');
            found.push(i);
          }
        }
        token = page.NextToken;
      } while (token !== undefined && token !== '');
    }

    const now = this.clock.now();
    const running = found.filter((i) => i.State?.Name === 'running').map((i) => i.InstanceId ?? '');
    const full = now - this.lastFullRefresh >= this.refreshMs;
    const wanted = full ? running : running.filter((id) => this.health.get(id) !== 'ok' && this.health.get(id) !== 'impaired');
    if (full) this.lastFullRefresh = now;
    await this.refreshStatus(wanted);
    const live = new Set(running);
    for (const id of [...this.health.keys()]) if (!live.has(id)) this.health.delete(id);

    return found.map((i) => {
      const power = powerOf(i.State?.Name);
      return {
        id: i.InstanceId ?? '',
        tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        zone: i.Placement?.AvailabilityZone ?? '',
        instanceType: i.InstanceType ?? '',
        power,
        health: power === 'running' ? (this.health.get(i.InstanceId ?? '') ?? 'initializing') : 'unknown',
        targets: {},
      };
    });
  }

  private async refreshStatus(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += STATUS_PAGE) {
      const chunk = ids.slice(i, i + STATUS_PAGE);
      const r: DescribeInstanceStatusCommandOutput = await this.send(() => this.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: chunk, IncludeAllInstances: true })));
      for (const s of r.InstanceStatuses ?? []) this.health.set(s.InstanceId ?? '', healthOf(s.SystemStatus?.Status, s.InstanceStatus?.Status));
    }
  }

  private async act(ids: readonly string[], call: (chunk: string[]) => Promise<unknown>, size = this.batchSize): Promise<ActionResult[]> {
    const out: ActionResult[] = [];
    for (let i = 0; i < ids.length; i += size) {
      const chunk = ids.slice(i, i + size);
      try {
        await this.send(() => call(chunk));
        out.push(...chunk.map((id) => ({ instanceId: id, ok: true })));
      } catch (err) {
        if (errorKind(err) === 'retryable') throw err; // the executor backs off and retries the whole call
        // EC2 refuses a whole call for one instance in the wrong state: retry one by one so only that one fails.
        if (chunk.length > 1) out.push(...(await this.act(chunk, call, 1)));
        else out.push({ instanceId: chunk[0] ?? '', ok: false, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  }

  start(ids: readonly string[]): Promise<ActionResult[]> {
    return this.act(ids, (chunk) => this.ec2.send(new StartInstancesCommand({ InstanceIds: chunk })));
  }

  stop(ids: readonly string[], options: { readonly force: boolean }): Promise<ActionResult[]> {
    return this.act(ids, (chunk) => this.ec2.send(new StopInstancesCommand({ InstanceIds: chunk, Force: options.force, ...(this.hibernate ? { Hibernate: true } : {}) })));
  }
}
