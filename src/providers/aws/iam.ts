import type { FleetConfig } from '../../config/config.js';

interface Statement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

function eventsUsed(config: FleetConfig): boolean {
  return config.groups.some((g) => Object.entries(g.fileValues).some(([k, v]) => k.startsWith('events.') && k.endsWith('.enabled') && v === true) || g.workload?.tiers.some((t) => t.bypassFile !== null) === true);
}

/**
 * Documents maintenance tasks send (AWS-RunShellScript for `command`), as ARNs: AWS-owned documents have no account
 * in theirs; a task may give a full ARN itself.
 */
function taskDocuments(config: FleetConfig): string[] {
  const names = new Set(config.groups.flatMap((g) => g.windows.flatMap((w) => (w.tasks ?? []).flatMap((t) => [t.document?.name ?? 'AWS-RunShellScript', ...(t.healthCheck === null ? [] : ['AWS-RunShellScript'])]))));
  return [...names].sort().map((n) => (n.startsWith('arn:') ? n : /^(AWS|Amazon)/.test(n) ? `arn:aws:ssm:*::document/${n}` : `arn:aws:ssm:*:*:document/${n}`));
}

/**
 * The least-privilege IAM policy for a configuration: read what it observes, and act only on instances and target
 * groups carrying one of its groups' tags. Describe/List calls cannot be narrowed by resource in IAM, so they are
 * on `*`; every mutating call is conditioned on the group tag.
 */
export function iamPolicy(config: FleetConfig): { Version: '2012-10-17'; Statement: Statement[] } {
  const tagKey = `${config.naming.tagPrefix}:group-name`;
  const groups = config.groups.map((g) => g.name);
  const tagged = { StringEquals: { [`aws:ResourceTag/${tagKey}`]: groups } };
  const statements: Statement[] = [
    { Sid: 'ObserveFleet', Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeInstanceStatus', 'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTags', 'elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeTargetGroupAttributes'], Resource: '*' },
    { Sid: 'StartStopGroupInstances', Effect: 'Allow', Action: ['ec2:StartInstances', 'ec2:StopInstances'], Resource: 'arn:aws:ec2:*:*:instance/*', Condition: tagged },
    { Sid: 'DrainGroupTargets', Effect: 'Allow', Action: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'], Resource: 'arn:aws:elasticloadbalancing:*:*:targetgroup/*', Condition: tagged },
  ];
  if (config.ssmDiscovery) {
    statements.push({ Sid: 'DiscoverMaintenanceWindows', Effect: 'Allow', Action: ['ssm:DescribeMaintenanceWindows', 'ssm:ListTagsForResource'], Resource: '*' });
  }
  if (eventsUsed(config)) {
    statements.push(
      { Sid: 'RunEventScriptsDocument', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: 'arn:aws:ssm:*::document/AWS-RunShellScript' },
      { Sid: 'RunEventScriptsOnGroupInstances', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: 'arn:aws:ec2:*:*:instance/*', Condition: tagged },
      { Sid: 'ReadEventResults', Effect: 'Allow', Action: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], Resource: '*' },
    );
  }
  const documents = config.controller.eventDelivery === 'run-command' ? taskDocuments(config) : [];
  if (documents.length > 0) {
    // Maintenance tasks: their documents on the group's instances, their results, and CancelCommand (cutoff with
    // cancel, `executions cancel`), which IAM cannot narrow by resource.
    statements.push(
      { Sid: 'RunTaskDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: documents },
      { Sid: 'RunTasksOnGroupInstances', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: 'arn:aws:ec2:*:*:instance/*', Condition: tagged },
      { Sid: 'ReadTaskResults', Effect: 'Allow', Action: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation'], Resource: '*' },
      { Sid: 'CancelTaskCommands', Effect: 'Allow', Action: ['ssm:CancelCommand'], Resource: '*' },
    );
  }
  if (config.aws.outputBucket !== undefined) {
    statements.push({ Sid: 'CommandOutput', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: `arn:aws:s3:::${config.aws.outputBucket}/${config.aws.outputPrefix ?? 'fleetwarden/'}*` });
  }
  if (config.store.kind === 'dynamodb') {
    statements.push({ Sid: 'StateTable', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchWriteItem'], Resource: `arn:aws:dynamodb:*:*:table/${config.store.table ?? ''}` });
  }
  return { Version: '2012-10-17', Statement: statements };
}
