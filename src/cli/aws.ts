import { loadConfigFile } from '../config/load.js';
import { iamPolicy } from '../providers/aws/iam.js';
import { type CliIo, type Command, EXIT, parse } from './io.js';

const iam: Command = {
  name: 'iam-policy',
  summary: 'print the least-privilege IAM policy the configuration needs',
  help: `Usage: fleetwarden aws iam-policy [--config FILE]

Prints the IAM policy document (JSON) for the controller's role: describe calls on *, start/stop and target
(de)registration only on resources tagged with one of the configuration's groups, SSM only for what is enabled
(window discovery, event scripts), S3 for command output and DynamoDB for the state table when configured.`,
  run(args: string[], io: CliIo): number {
    const { values } = parse(args, { config: { type: 'string' } }, false);
    io.out(JSON.stringify(iamPolicy(loadConfigFile(values.config ?? 'fleetwarden.yaml')), null, 2));
    return EXIT.ok;
  },
};

export const awsCommands: readonly Command[] = [iam];
