import { loadConfigFile } from '../config/load.js';
import { type CliIo, type Command, EXIT, parse } from './io.js';

const iam: Command = {
  name: 'iam-policy',
  summary: 'print the least-privilege IAM policy the configuration needs',
  help: `Usage: fleetwarden aws iam-policy [--config FILE] [--spoke ROLE_ARN]

Prints the IAM policy document (JSON) for the controller's role, generated from the AWS calls each adapter
declares and the features the configuration uses: read-only calls IAM cannot narrow on *; start/stop, target
(de)registration and SendCommand only on resources tagged with one of the configuration's groups; SSM window
discovery, event and bypass commands (shell and PowerShell documents), maintenance-task commands, S3 for task
output, DynamoDB for the state table, events:PutEvents on the event bus and sts:AssumeRole on the groups' roles
(groups[].aws.roleArn) only when configured.

  --spoke ROLE_ARN  the policy of that spoke role instead: what the controller does in the spoke's account for the
                    groups assuming it (no store, bucket, bus or roles: the hub keeps those)`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { config: { type: 'string' }, spoke: { type: 'string' } }, false);
    const config = loadConfigFile(values.config ?? 'fleetwarden.yaml');
    // The declarations live beside the adapters, and with them the AWS SDK: loaded only for this command.
    const { iamPolicy, spokePolicy } = await import('../app/iam-policy.js');
    io.out(JSON.stringify(values.spoke === undefined ? iamPolicy(config) : spokePolicy(config, values.spoke), null, 2));
    return EXIT.ok;
  },
};

export const awsCommands: readonly Command[] = [iam];
