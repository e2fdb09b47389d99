/** `fleetwarden plan` with provider: aws, as a real process, against the wire fakes: reads only, and the right plan. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planJson } from '../../src/api/wire.js';
import { FakeAws, type FakeRequest, runCli } from './fake-aws.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef';
const IDS = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];

/** Three stopped instances of group web (one with a subfleet tag that is no name), a target group, an SSM window. */
let power: 'stopped' | 'running' = 'stopped';
function answer(r: FakeRequest): { status?: number; body: string } {
  const tag = (k: string, v: string): string => `<item><key>${k}</key><value>${v}</value></item>`;
  switch (r.action) {
    case 'DescribeInstances':
      return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${IDS.map((id, n) => `<item><instanceId>${id}</instanceId><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><instanceState><code>${power === 'running' ? 16 : 80}</code><name>${power}</name></instanceState><tagSet>${tag('fleetwarden:group-name', 'web')}${n === 2 ? tag('fleetwarden:subfleet-name', 'not a name!') : ''}</tagSet></item>`).join('')}</instancesSet></item></reservationSet></DescribeInstancesResponse>` };
    case 'DescribeInstanceStatus':
      return { body: `<DescribeInstanceStatusResponse xmlns="${EC2}"><instanceStatusSet>${IDS.map((id) => `<item><instanceId>${id}</instanceId><instanceState><code>16</code><name>running</name></instanceState><systemStatus><status>ok</status></systemStatus><instanceStatus><status>ok</status></instanceStatus></item>`).join('')}</instanceStatusSet></DescribeInstanceStatusResponse>` };
    case 'DescribeTargetGroups':
      return { body: `<DescribeTargetGroupsResponse xmlns="${ELB}"><DescribeTargetGroupsResult><TargetGroups><member><TargetGroupArn>${TG}</TargetGroupArn><TargetType>instance</TargetType></member></TargetGroups></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>` };
    case 'DescribeTags':
      return { body: `<DescribeTagsResponse xmlns="${ELB}"><DescribeTagsResult><TagDescriptions><member><ResourceArn>${TG}</ResourceArn><Tags><member><Key>fleetwarden:group-name</Key><Value>web</Value></member></Tags></member></TagDescriptions></DescribeTagsResult></DescribeTagsResponse>` };
    case 'DescribeTargetHealth':
      return { body: `<DescribeTargetHealthResponse xmlns="${ELB}"><DescribeTargetHealthResult><TargetHealthDescriptions>${IDS.map((id) => `<member><Target><Id>${id}</Id></Target><TargetHealth><State>${power === 'running' ? 'healthy' : 'unused'}</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>` };
    case 'DescribeTargetGroupAttributes':
      return { body: `<DescribeTargetGroupAttributesResponse xmlns="${ELB}"><DescribeTargetGroupAttributesResult><Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>30</Value></member></Attributes></DescribeTargetGroupAttributesResult></DescribeTargetGroupAttributesResponse>` };
    case 'DescribeMaintenanceWindows':
      return { body: JSON.stringify({ WindowIdentities: [{ WindowId: 'mw-0123456789abcdef0', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'cron(0 3 ? * SUN#1 *)' }] }) };
    case 'DescribeInstanceInformation':
      // Every SSM agent online: a script sent for real would go out as SendCommand.
      return { body: JSON.stringify({ InstanceInformationList: IDS.map((id) => ({ InstanceId: id, PingStatus: 'Online', PlatformType: 'Linux' })) }) };
    case 'ListTagsForResource':
      return { body: JSON.stringify({ TagList: [{ Key: 'fleetwarden:group-name', Value: 'web' }] }) };
    default:
      // Anything else (StartInstances, RegisterTargets, SendCommand, ...) is refused and shows in the requests.
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


describe('fleetwarden plan, provider: aws', () => {
  it('makes read requests only (Describe*, List*, Get*) and lists the starts a tick would make', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-aws-plan-'));
    const config = join(dir, 'fleetwarden.yaml');
    writeFileSync(config, 'provider: aws\naws: { region: eu-west-1 }\nssm: { discovery: true }\ngroups:\n  - name: web\n    fleets: { main: { desired: 2 } }\n');
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
    const stateDir = join(dir, 'state');
    const r = await runCli(['plan', '--config', config, '--state-dir', stateDir, '--json'], env);
    assert.equal(r.status, 3, r.stderr);
    const view = planJson.parse(JSON.parse(r.stdout));
    const web = view.groups[0];
    assert.equal(view.store, null, 'no store yet: planned as a first tick');
    assert.deepEqual(web?.commands.map((c) => [c.kind, c.instances]), [['start', ['i-0000000000000000a', 'i-0000000000000000b']]]);
    // The instance with a bad tag is reported and left alone (excluded), as the tick would.
    assert.deepEqual(web.transitions.map((t) => [t.instance, t.from, t.to]), [['i-0000000000000000c', 'stopped', 'excluded'], ['i-0000000000000000a', 'stopped', 'starting'], ['i-0000000000000000b', 'stopped', 'starting']]);
    assert.deepEqual(web.problems.map((p) => [p.subject, p.field, p.value, p.new]), [['i-0000000000000000c', 'fleetwarden:subfleet-name', 'not a name!', true]]);
    // The fleet, the target groups and the windows were read: through the real adapters, not skipped.
    for (const action of ['DescribeInstances', 'DescribeTargetHealth', 'DescribeMaintenanceWindows']) assert.ok(fake.calls(action).length > 0, action);
    const actions = [...new Set(fake.requests.map((q) => q.action))].sort();
    assert.deepEqual(actions.filter((a) => !/^(Describe|List|Get)/.test(a)), [], `only reads, got ${actions.join(', ')}`);
    assert.equal(existsSync(stateDir), false, 'nothing written locally');
    assert.doesNotMatch(r.stdout + r.stderr, /test-secret/);
  });

  it('previews a window execution that would start and the scripts it would send, without sending them (no SendCommand)', async () => {
    power = 'running';
    fake.requests.length = 0;
    const dir = mkdtempSync(join(tmpdir(), 'fw-aws-plan-'));
    const stateDir = join(dir, 'state');
    const group = '  - name: web\n    fleets: { main: { desired: 3 } }\n    lifecycle: { warmUp: 0s }\n';
    const running = join(dir, 'running.yaml');
    writeFileSync(running, `provider: aws\naws: { region: eu-west-1 }\ngroups:\n${group}`);
    // A window of every hour lasting the hour: one period is always under way, whatever the wall clock says.
    const withWindow = join(dir, 'with-window.yaml');
    writeFileSync(withWindow, `provider: aws\naws: { region: eu-west-1 }\ngroups:\n${group}    maintenance:\n      windows:\n        - name: FW-web-hourly\n          schedule: cron(0 * * * ? *)\n          durationHours: 1\n          tasks:\n            - { name: hello, command: "echo hello" }\n`);
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
    // Two ticks bring the running instances to state running in the store (the bad-tagged one stays excluded).
    for (let n = 0; n < 2; n++) {
      const tick = await runCli(['run', '--once', '--listen', 'none', '--config', running, '--state-dir', stateDir], env);
      assert.equal(tick.status, 0, tick.stderr);
    }
    fake.requests.length = 0;
    const r = await runCli(['plan', '--config', withWindow, '--state-dir', stateDir, '--json'], env);
    assert.equal(r.status, 3, r.stderr);
    const web = planJson.parse(JSON.parse(r.stdout)).groups[0];
    assert.deepEqual(web?.commands, []);
    const steps = web.maintenance.map((m) => `${m.instance ?? '-'} ${m.message}`);
    assert.ok(steps.some((m) => /^- window execution web\/FW-web-hourly\/\S+ started: 1 task\(s\)$/.test(m)), steps.join('\n'));
    assert.ok(steps.includes('- hello: started on 2 target(s)'), steps.join('\n'));
    // One at a time (MaxConcurrency's default): the first target's script, which the tick would send now.
    assert.deepEqual(steps.filter((m) => m.includes('task sent')).map((m) => m.split(' ')[0]), ['i-0000000000000000a']);
    const actions = [...new Set(fake.requests.map((q) => q.action))].sort();
    assert.deepEqual(actions.filter((a) => !/^(Describe|List|Get)/.test(a)), [], `only reads, got ${actions.join(', ')}`);
  });
});
