import type { FleetConfig } from '../../config/config.js';
import { InvariantError, ValidationError } from '../../domain/errors.js';
import { DYNAMODB_CALLS } from '../../store/dynamodb/store.js';
import type { AwsCall, AwsFeature, AwsResource } from './calls.js';
import { EC2_CALLS } from './ec2.js';
import { ELBV2_CALLS } from './elbv2.js';
import { S3_CALLS } from './s3.js';
import { SSM_CALLS } from './ssm.js';

interface Statement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicy {
  readonly Version: '2012-10-17';
  readonly Statement: Statement[];
}

/** Every call of every adapter, as declared beside it. */
export const AWS_CALLS: readonly AwsCall[] = [...EC2_CALLS, ...ELBV2_CALLS, ...SSM_CALLS, ...S3_CALLS, ...DYNAMODB_CALLS];

const ENABLED = /^events\.[^.]+\.enabled$/;

/** Events are sent if any layer of the file turns one on (a group, a schedule, a window), or a tier checks a bypass file. */
function eventsUsed(config: FleetConfig): boolean {
  return config.groups.some((g) => {
    const layers = [g.fileValues, ...g.schedules.map((s) => s.values), ...g.windows.map((w) => w.overrides)];
    return layers.some((values) => Object.entries(values).some(([k, v]) => ENABLED.test(k) && v === true)) || g.workload?.tiers.some((t) => t.bypassFile !== null) === true;
  });
}

/**
 * The features a configuration uses. Commands go through SSM only with `eventDelivery: run-command` (agents pull
 * them otherwise). Events turned on only at run time (an override, a window tag) are not seen here: such a
 * deployment needs the policy of a configuration that turns them on.
 */
export function featuresOf(config: FleetConfig): Set<AwsFeature> {
  const out = new Set<AwsFeature>(['fleet']);
  const ssmCommands = config.controller.eventDelivery === 'run-command';
  if (config.ssmDiscovery) out.add('window-discovery');
  if (ssmCommands && eventsUsed(config)) out.add('events');
  if (ssmCommands && config.groups.some((g) => g.windows.some((w) => (w.tasks?.length ?? 0) > 0))) out.add('maintenance-tasks');
  if (config.aws.outputBucket !== undefined) out.add('output-bucket');
  if (config.store.kind === 'dynamodb') out.add('state-table');
  return out;
}

/** Values placed in ARNs must not widen them: IAM reads `*` and `?` as wildcards. */
function outputBucket(config: FleetConfig): { bucket: string; prefix: string } {
  const bucket = config.aws.outputBucket ?? '';
  const prefix = config.aws.outputPrefix ?? 'fleetwarden/';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ValidationError('aws.outputBucket', `${JSON.stringify(bucket)} is not an S3 bucket name`);
  if (/[*?]/.test(prefix)) throw new ValidationError('aws.outputPrefix', `must not contain * or ?, got ${JSON.stringify(prefix)}`);
  return { bucket, prefix };
}

function stateTable(config: FleetConfig): string {
  const table = config.store.table ?? '';
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) throw new ValidationError('store.table', `${JSON.stringify(table)} is not a DynamoDB table name`);
  return table;
}

/** One statement per kind of resource, in this order; documents share one. */
const ORDER: readonly AwsResource['kind'][] = ['any', 'group-instances', 'group-target-groups', 'document', 'output-bucket', 'output-objects', 'state-table'];
const SID: Readonly<Record<AwsResource['kind'], string>> = {
  any: 'Read',
  'group-instances': 'GroupInstances',
  'group-target-groups': 'GroupTargetGroups',
  document: 'RunCommandDocuments',
  'output-bucket': 'ListOutputBucket',
  'output-objects': 'OutputObjects',
  'state-table': 'StateTable',
};

/**
 * The least-privilege IAM policy for a configuration, generated from the calls the adapters declare (calls.ts)
 * and the features the configuration uses. Read-only calls IAM cannot narrow are on `*`; every mutating call
 * names its resources, and those on instances and target groups only when tagged with one of the groups — or, for
 * a workload selected by its own tag (`envFilterTag`), instances carrying that tag and value.
 */
export function iamPolicy(config: FleetConfig, calls: readonly AwsCall[] = AWS_CALLS): IamPolicy {
  const features = featuresOf(config);
  const used = calls.filter((c) => c.features.some((f) => features.has(f)));
  for (const c of used) if (c.mutating && c.resource.kind === 'any') throw new InvariantError(`${c.action} changes something and must name its resources, not *`);
  const tagKey = `${config.naming.tagPrefix}:group-name`;
  const tagged = { StringEquals: { [`aws:ResourceTag/${tagKey}`]: config.groups.map((g) => g.name) } };
  // Workloads selected by a tag of their own (seed 003) carry no group tag: their instances are granted by that tag
  // and value instead, one statement per tag key (IAM ANDs the keys of one condition; statements are ORed).
  const byFilterKey = new Map<string, string[]>();
  for (const g of config.groups) {
    const f = g.workload?.envFilter;
    if (f) byFilterKey.set(f.key, [...(byFilterKey.get(f.key) ?? []), f.value]);
  }
  const statement = (kind: AwsResource['kind'], forKind: readonly AwsCall[]): Statement | Statement[] => {
    const Action = [...new Set(forKind.map((c) => c.action))].sort();
    const base = { Sid: SID[kind], Effect: 'Allow' as const, Action };
    switch (kind) {
      case 'any':
        return { ...base, Resource: '*' };
      case 'group-instances':
        return [
          { ...base, Resource: 'arn:aws:ec2:*:*:instance/*', Condition: tagged },
          ...[...byFilterKey].sort(([a], [b]) => a.localeCompare(b)).map(([key, values], n): Statement => ({ ...base, Sid: `WorkloadInstances${n + 1}`, Resource: 'arn:aws:ec2:*:*:instance/*', Condition: { StringEquals: { [`aws:ResourceTag/${key}`]: values } } })),
        ];
      case 'group-target-groups':
        return { ...base, Resource: 'arn:aws:elasticloadbalancing:*:*:targetgroup/*', Condition: tagged };
      case 'document':
        return { ...base, Resource: [...new Set(forKind.map((c) => (c.resource.kind === 'document' ? `arn:aws:ssm:*::document/${c.resource.name}` : '')))].sort() };
      case 'output-bucket':
        return { ...base, Resource: `arn:aws:s3:::${outputBucket(config).bucket}` };
      case 'output-objects': {
        const { bucket, prefix } = outputBucket(config);
        return { ...base, Resource: `arn:aws:s3:::${bucket}/${prefix}*` };
      }
      case 'state-table':
        return { ...base, Resource: `arn:aws:dynamodb:*:*:table/${stateTable(config)}` };
    }
  };
  const Statement = ORDER.flatMap((kind) => {
    const forKind = used.filter((c) => c.resource.kind === kind);
    return forKind.length === 0 ? [] : [statement(kind, forKind)].flat();
  });
  return { Version: '2012-10-17', Statement };
}
