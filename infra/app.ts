/**
 * The CDK app: `npm run synth` (offline, no account), `npx cdk deploy -c config=fleetwarden.yaml` (docs/aws.md).
 * Context: `config` (the configuration file to deploy) [examples/aws-lambda.yaml]; `alarmTopicArn` (an existing SNS
 * topic for the alarms) [one of the stack's own]; `workerRoleName` [fleetwarden-worker]; with `hubAccount` and
 * `externalId`, also the spoke stack (FleetwardenSpoke) to deploy into other accounts, trusting the hub's worker role
 * (`workerRoleName`).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { FleetwardenSpokeStack, FleetwardenStack } from './fleetwarden.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function buildApp(app: App): App {
  const context = (k: string): string | undefined => {
    const v: unknown = app.node.tryGetContext(k);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const configFile = context('config') ?? join(ROOT, 'examples/aws-lambda.yaml');
  const alarmTopicArn = context('alarmTopicArn');
  const workerRoleName = context('workerRoleName');
  new FleetwardenStack(app, 'Fleetwarden', { configFile, ...(alarmTopicArn === undefined ? {} : { alarmTopicArn }), ...(workerRoleName === undefined ? {} : { workerRoleName }) });
  const hubAccount = context('hubAccount');
  const externalId = context('externalId');
  if (hubAccount !== undefined && externalId !== undefined) new FleetwardenSpokeStack(app, 'FleetwardenSpoke', { configFile, hubAccount, externalId, ...(workerRoleName === undefined ? {} : { hubRoleName: workerRoleName }) });
  return app;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    // Run by the cdk CLI, CDK_OUTDIR is set; run by `npm run synth`, the template goes to cdk.out/ as the CLI's would.
    buildApp(new App({ outdir: process.env['CDK_OUTDIR'] ?? 'cdk.out' })).synth();
  } catch (err) {
    // A configuration mistake is named, not thrown at the user as a stack trace.
    console.error(`fleetwarden synth: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}
