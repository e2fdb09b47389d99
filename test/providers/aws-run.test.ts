/** `fleetwarden run` with provider: aws, as a real process, against a local endpoint found through AWS_ENDPOINT_URL. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FakeAws, type FakeRequest, runCli } from './fake-aws.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';

function answer(r: FakeRequest): { status?: number; body: string } {
  const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];
  switch (r.action) {
    case 'DescribeInstances':
      return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${ids.map((id, n) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1${'abc'[n] ?? 'a'}</availabilityZone></placement><instanceState><code>80</code><name>stopped</name></instanceState><tagSet><item><key>fleetwarden:group-name</key><value>web</value></item></tagSet></item>`).join('')}</instancesSet></item></reservationSet></DescribeInstancesResponse>` };
    case 'StartInstances':
      return { body: `<StartInstancesResponse xmlns="${EC2}"><instancesSet></instancesSet></StartInstancesResponse>` };
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups><member><TargetGroupArn>${TG}</TargetGroupArn><TargetType>instance</TargetType></member></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    case 'DescribeTags':
      return { body: `<DescribeTagsResponse xmlns="${ELB}"><DescribeTagsResult><TagDescriptions><member><ResourceArn>${TG}</ResourceArn><Tags><member><Key>fleetwarden:group-name</Key><Value>web</Value></member></Tags></member></TagDescriptions></DescribeTagsResult></DescribeTagsResponse>` };
    case 'DescribeTargetHealth':
      return { body: `<DescribeTargetHealthResponse xmlns="${ELB}"><DescribeTargetHealthResult><TargetHealthDescriptions>${ids.map((id) => `<member><Target><Id>${id}</Id></Target><TargetHealth><State>unused</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>` };
    case 'DescribeMaintenanceWindows':
      return { body: JSON.stringify({ WindowIdentities: [{ WindowId: 'mw-0123456789abcdef0', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'cron(0 3 ? * SUN#1 *)' }] }) };
    case 'ListTagsForResource':
      return { body: JSON.stringify({ TagList: [{ Key: 'fleetwarden:group-name', Value: 'web' }] }) };
    default:
      return { status: 400, body: `<Response><Errors><Error><Code>InvalidAction</Code><Message>${r.action}</Message></Error></Errors></Response>` };
  }
}

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
  fake.handler = answer;
});
after(() => fake.stop());


describe('provider: aws', () => {
  it('run --once observes EC2, ELBv2 and SSM and starts what the plan says, through AWS_ENDPOINT_URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-aws-'));
    const config = join(dir, 'fleetwarden.yaml');
    writeFileSync(config, 'provider: aws\naws: { region: eu-west-1 }\nssm: { discovery: true }\ngroups:\n  - name: web\n    fleets: { main: { desired: 2 } }\n');
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
    const r = await runCli(['run', '--once', '--listen', '127.0.0.1:0', '--config', config, '--state-dir', join(dir, 'state'), '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; command?: string; instances?: string[] });
    assert.deepEqual(events.find((e) => e.type === 'command' && e.command === 'start')?.instances, ['i-0000000000000000a', 'i-0000000000000000b']);
    const starts = fake.calls('StartInstances');
    assert.equal(starts.length, 1);
    assert.deepEqual([starts[0]?.params['InstanceId.1'], starts[0]?.params['InstanceId.2']], ['i-0000000000000000a', 'i-0000000000000000b']);
    assert.ok(fake.calls('DescribeMaintenanceWindows').length === 1 && fake.calls('DescribeTargetHealth').length === 1);
    assert.doesNotMatch(r.stdout + r.stderr, /test-secret/, 'credentials never appear in output');
    const status = spawnSync(process.execPath, [BIN, 'status', '--config', config, '--state-dir', join(dir, 'state'), '--json'], { encoding: 'utf8' });
    assert.equal((JSON.parse(status.stdout) as { instances: unknown[] }).instances.length, 3);
  });

  it('config explain and windows see the SSM windows the controller applies (one composition root for every command)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-aws-'));
    const config = join(dir, 'fleetwarden.yaml');
    writeFileSync(config, 'provider: aws\naws: { region: eu-west-1 }\nssm: { discovery: true }\ngroups:\n  - name: web\n    fleets: { main: { min: 1, desired: 2 } }\n');
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
    // FW-web runs at 03:00 on the first Sunday of the month for 2 hours: 7 June 2026.
    const explain = await runCli(['config', 'explain', 'fleets.main.min', '--group', 'web', '--at', '2026-06-07T03:30:00Z', '--config', config, '--state-dir', join(dir, 'state')], env);
    assert.equal(explain.status, 0, explain.stderr);
    assert.match(explain.stdout, /active windows: FW-web until 2026-06-07T05:00:00Z/);
    assert.match(explain.stdout, /\*\s+window\s+100%\s+window FW-web/);
    const windows = await runCli(['windows', '--from', '2026-06-01T00:00:00Z', '--days', '10', '--json', '--config', config], env);
    assert.equal(windows.status, 0, windows.stderr);
    assert.deepEqual((JSON.parse(windows.stdout) as { periods: { window: string; start: string }[] }).periods.map((p) => [p.window, p.start]), [['FW-web', '2026-06-07T03:00:00Z']]);
  });

  it('the AWS SDK is not loaded on the simulator path: no static import from the CLI reaches @aws-sdk', () => {
    const seen = new Set<string>();
    const reached: string[] = [];
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else reached.push(`${file.replace(ROOT, '')} -> ${spec}`);
      }
    };
    walk(BIN);
    // The entry point loads the command line with import() once it has decided on run's restart (src/cli/main.ts):
    // those modules are the CLI too.
    for (const m of readFileSync(BIN, 'utf8').matchAll(/await import\('(\.[^']+)'\)/g)) walk(resolve(dirname(BIN), m[1] ?? ''));
    assert.ok(seen.size > 20, `walked ${seen.size} modules`);
    assert.deepEqual(reached.filter((r) => r.includes('@aws-sdk')), []);
  });
});
