import type { FleetConfig } from '../config/config.js';
import { InvariantError, ValidationError } from '../domain/errors.js';
import { DYNAMODB_CALLS } from '../store/dynamodb/store.js';
import type { AwsCall, AwsFeature, AwsResource } from '../ports/aws-calls.js';
import { EC2_CALLS } from '../providers/aws/ec2.js';
import { ELBV2_CALLS } from '../providers/aws/elbv2.js';
import { S3_CALLS } from '../providers/aws/s3.js';
import { SSM_CALLS } from '../providers/aws/ssm.js';
import { EVENTS_CALLS } from '../providers/aws/eventbridge.js';
import { STS_CALLS } from '../providers/aws/spoke.js';

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
export const AWS_CALLS: readonly AwsCall[] = [...EC2_CALLS, ...ELBV2_CALLS, ...SSM_CALLS, ...S3_CALLS, ...DYNAMODB_CALLS, ...EVENTS_CALLS, ...STS_CALLS];

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
  if (config.events.eventBridge !== null) out.add('event-bus');
  if (config.groups.some((g) => g.aws.roleArn !== null)) out.add('spoke-roles');
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

/** The bus events go to: an ARN as given, or a name on the default region (aws.region, else any) of this account. */
export function eventBusArn(config: FleetConfig): string {
  const bus = config.events.eventBridge?.busName ?? 'default';
  if (/[*?]/.test(bus)) throw new ValidationError('events.eventBridge.busName', `must not contain * or ?, got ${JSON.stringify(bus)}`);
  return bus.startsWith('arn:') ? bus : `arn:aws:events:${config.aws.region ?? '*'}:*:event-bus/${bus}`;
}

function stateTable(config: FleetConfig): string {
  const table = config.store.table ?? '';
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) throw new ValidationError('store.table', `${JSON.stringify(table)} is not a DynamoDB table name`);
  return table;
}

/**
 * The documents the configuration's maintenance tasks run, as ARNs: AWS-RunShellScript for a `command` and for
 * health checks, each task's own `document`. AWS-owned documents (AWS-…, Amazon…) have no account in theirs; a task
 * may give a full ARN itself.
 */
function taskDocuments(config: FleetConfig): string[] {
  const out = new Set<string>();
  for (const g of config.groups) {
    for (const w of g.windows) {
      for (const t of w.tasks ?? []) {
        const names = [t.document?.name ?? 'AWS-RunShellScript', ...(t.healthCheck === null ? [] : ['AWS-RunShellScript'])];
        for (const name of names) {
          if (/[*?]/.test(name)) throw new ValidationError(`groups.${g.name}.windows.${w.name}.tasks.${t.name}.document`, `must not contain * or ?, got ${JSON.stringify(name)}`);
          out.add(name.startsWith('arn:') ? name : /^(AWS|Amazon)/.test(name) ? `arn:aws:ssm:*::document/${name}` : `arn:aws:ssm:*:*:document/${name}`);
        }
      }
    }
  }
  return [...out];
}

/**
 * The one exception to "a mutating call names its resources": IAM has no resource type for ssm:CancelCommand (the
 * service authorization reference lists none), so it can only be granted on `*`. It stops commands already sent —
 * it cannot start anything or reach an instance a command was not sent to — so `*` adds no power over the fleet.
 * Granted in a statement of its own, never among the reads.
 */
export const MUTATING_ON_ANY: ReadonlySet<string> = new Set(['ssm:CancelCommand']);

/** One statement per kind, in this order; documents (fixed and the tasks') share one. */
type StatementKind = Exclude<AwsResource['kind'], 'task-documents'> | 'unscoped-write';
const ORDER: readonly StatementKind[] = ['any', 'unscoped-write', 'group-instances', 'group-target-groups', 'document', 'output-bucket', 'output-objects', 'state-table', 'event-bus', 'spoke-roles'];
const SID: Readonly<Record<StatementKind, string>> = {
  any: 'Read',
  'unscoped-write': 'CancelCommands',
  'group-instances': 'GroupInstances',
  'group-target-groups': 'GroupTargetGroups',
  document: 'RunCommandDocuments',
  'output-bucket': 'ListOutputBucket',
  'output-objects': 'OutputObjects',
  'state-table': 'StateTable',
  'event-bus': 'PublishEvents',
  'spoke-roles': 'AssumeSpokeRoles',
};

function statementKind(c: AwsCall): StatementKind {
  if (c.resource.kind === 'any') return c.mutating ? 'unscoped-write' : 'any';
  return c.resource.kind === 'task-documents' ? 'document' : c.resource.kind;
}

/** What a spoke role does not do: the hub keeps the store, the output bucket, the bus, SSM discovery and the roles. */
const HUB_ONLY: ReadonlySet<AwsFeature> = new Set(['state-table', 'output-bucket', 'event-bus', 'window-discovery', 'spoke-roles']);

/**
 * The permissions of a spoke role (`aws iam-policy --spoke ROLE_ARN`): what the controller does in that account,
 * for the groups that assume it — the same generator on those groups alone, without what only the hub does. Its trust
 * policy (the hub's role as principal, sts:ExternalId) is the deployment's (docs/aws.md).
 */
export function spokePolicy(config: FleetConfig, roleArn: string, calls: readonly AwsCall[] = AWS_CALLS): IamPolicy {
  const groups = config.groups.filter((g) => g.aws.roleArn === roleArn);
  if (groups.length === 0) {
    const named = [...new Set(config.groups.flatMap((g) => (g.aws.roleArn === null ? [] : [g.aws.roleArn])))];
    throw new ValidationError('--spoke', `no group assumes ${roleArn}${named.length === 0 ? ' (no group names a roleArn)' : `; the configuration's roles: ${named.join(', ')}`}`);
  }
  const spoke: FleetConfig = { ...config, groups, ssmDiscovery: false };
  const features = featuresOf(spoke);
  return iamPolicy(spoke, calls, new Set([...features].filter((f) => !HUB_ONLY.has(f))));
}

/**
 * The least-privilege IAM policy for a configuration, generated from the calls the adapters declare (ports/aws-calls.ts)
 * and the features the configuration uses. Read-only calls IAM cannot narrow are on `*`; every mutating call
 * names its resources (but ssm:CancelCommand, see MUTATING_ON_ANY), and those on instances and target groups only
 * when tagged with one of the groups — or, for a workload selected by its own tag (`envFilterTag`), instances carrying
 * that tag and value.
 */
export function iamPolicy(config: FleetConfig, calls: readonly AwsCall[] = AWS_CALLS, features: ReadonlySet<AwsFeature> = featuresOf(config)): IamPolicy {
  const used = calls.filter((c) => c.features.some((f) => features.has(f)));
  for (const c of used) if (c.mutating && c.resource.kind === 'any' && !MUTATING_ON_ANY.has(c.action)) throw new InvariantError(`${c.action} changes something and must name its resources, not *`);
  const tagKey = `${config.naming.tagPrefix}:group-name`;
  const tagged = { StringEquals: { [`aws:ResourceTag/${tagKey}`]: config.groups.map((g) => g.name) } };
  // Workloads selected by a tag of their own (seed 003) carry no group tag: their instances are granted by that tag
  // and value instead, one statement per tag key (IAM ANDs the keys of one condition; statements are ORed).
  const byFilterKey = new Map<string, string[]>();
  for (const g of config.groups) {
    const f = g.workload?.envFilter;
    if (f) byFilterKey.set(f.key, [...(byFilterKey.get(f.key) ?? []), f.value]);
  }
  const statement = (kind: StatementKind, forKind: readonly AwsCall[]): Statement | Statement[] => {
    const Action = [...new Set(forKind.map((c) => c.action))].sort();
    const base = { Sid: SID[kind], Effect: 'Allow' as const, Action };
    switch (kind) {
      case 'any':
      case 'unscoped-write':
        return { ...base, Resource: '*' };
      case 'group-instances':
        return [
          { ...base, Resource: 'arn:aws:ec2:*:*:instance/*', Condition: tagged },
          ...[...byFilterKey].sort(([a], [b]) => a.localeCompare(b)).map(([key, values], n): Statement => ({ ...base, Sid: `WorkloadInstances${n + 1}`, Resource: 'arn:aws:ec2:*:*:instance/*', Condition: { StringEquals: { [`aws:ResourceTag/${key}`]: values } } })),
        ];
      case 'group-target-groups':
        return { ...base, Resource: 'arn:aws:elasticloadbalancing:*:*:targetgroup/*', Condition: tagged };
      case 'document':
        return { ...base, Resource: [...new Set(forKind.flatMap((c) => (c.resource.kind === 'document' ? [`arn:aws:ssm:*::document/${c.resource.name}`] : c.resource.kind === 'task-documents' ? taskDocuments(config) : [])))].sort() };
      case 'output-bucket':
        return { ...base, Resource: `arn:aws:s3:::${outputBucket(config).bucket}` };
      case 'output-objects': {
        const { bucket, prefix } = outputBucket(config);
        return { ...base, Resource: `arn:aws:s3:::${bucket}/${prefix}*` };
      }
      case 'state-table':
        return { ...base, Resource: `arn:aws:dynamodb:*:*:table/${stateTable(config)}` };
      case 'event-bus':
        return { ...base, Resource: eventBusArn(config) };
      case 'spoke-roles':
        return { ...base, Resource: [...new Set(config.groups.flatMap((g) => (g.aws.roleArn === null ? [] : [g.aws.roleArn])))].sort() };
    }
  };
  const Statement = ORDER.flatMap((kind) => {
    const forKind = used.filter((c) => statementKind(c) === kind);
    return forKind.length === 0 ? [] : [statement(kind, forKind)].flat();
  });
  return { Version: '2012-10-17', Statement };
}
