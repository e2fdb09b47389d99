/** `fleetwarden snapshot` with provider: aws, as a real process, against the wire fakes: read-only, every page followed. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeAws, type FakeRequest, runCli } from './fake-aws.js';
import { EC2_CALLS } from '../../src/providers/aws/ec2.js';
import { ELBV2_CALLS } from '../../src/providers/aws/elbv2.js';
import { SSM_CALLS } from '../../src/providers/aws/ssm.js';

const EC2 = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ELB = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const KEY = 'fleetwarden:group-name';
const TG1 = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0000000000000001';
const TG2 = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/0000000000000002';

interface Inst {
  id: string;
  state: string;
  zone: string;
  type: string;
  tags: Record<string, string>;
}
const A: Inst = { id: 'i-0000000000000000a', state: 'stopped', zone: 'eu-west-1a', type: 't3.micro', tags: { [KEY]: 'web', Name: 'web-a', Team: 'blue & green' } };
const B: Inst = { id: 'i-0000000000000000b', state: 'running', zone: 'eu-west-1b', type: 'm5.large', tags: { [KEY]: 'web' } };
const C: Inst = { id: 'i-0000000000000000c', state: 'pending', zone: 'eu-west-1c', type: 'm5.large', tags: { [KEY]: 'api' } };

const xmlInst = (i: Inst): string => `<item><instanceId>${i.id}</instanceId><instanceType>${i.type}</instanceType><placement><availabilityZone>${i.zone}</availabilityZone></placement><instanceState><code>16</code><name>${i.state}</name></instanceState><tagSet>${Object.entries(i.tags).map(([k, v]) => `<item><key>${k}</key><value>${v.replace('&', '&amp;')}</value></item>`).join('')}</tagSet></item>`;
const elb = (action: string, result: string): string => `<?xml version="1.0"?><${action}Response xmlns="${ELB}"><${action}Result>${result}</${action}Result></${action}Response>`;

/** Two pages of instances, of target groups and of windows: the snapshot must follow every token. */
function answer(r: FakeRequest): { status?: number; body: string } {
  switch (r.action) {
    case 'DescribeInstances': {
      const second = r.params['NextToken'] === 'p2';
      const items = (second ? [C] : [A, B]).map(xmlInst).join('');
      return { body: `<DescribeInstancesResponse xmlns="${EC2}"><reservationSet><item><instancesSet>${items}</instancesSet></item></reservationSet>${second ? '' : '<nextToken>p2</nextToken>'}</DescribeInstancesResponse>` };
    }
    case 'DescribeInstanceStatus':
      return { body: `<DescribeInstanceStatusResponse xmlns="${EC2}"><instanceStatusSet><item><instanceId>${B.id}</instanceId><systemStatus><status>ok</status></systemStatus><instanceStatus><status>ok</status></instanceStatus></item></instanceStatusSet></DescribeInstanceStatusResponse>` };
    case 'DescribeTargetGroups': {
      const second = r.params['Marker'] === 'm2';
      return { body: elb('DescribeTargetGroups', `<TargetGroups><member><TargetGroupArn>${second ? TG2 : TG1}</TargetGroupArn><TargetType>instance</TargetType></member></TargetGroups>${second ? '' : '<NextMarker>m2</NextMarker>'}`) };
    }
    case 'DescribeTags': {
      const arns = Object.entries(r.params).filter(([k]) => k.startsWith('ResourceArns.member.')).map(([, v]) => v);
      return { body: elb('DescribeTags', `<TagDescriptions>${arns.map((a) => `<member><ResourceArn>${a}</ResourceArn><Tags><member><Key>${KEY}</Key><Value>${a === TG1 ? 'web' : 'api'}</Value></member></Tags></member>`).join('')}</TagDescriptions>`) };
    }
    case 'DescribeTargetHealth': {
      const members = r.params['TargetGroupArn'] === TG1 ? [[A.id, 'unused'], [B.id, 'healthy']] : [[C.id, 'initial']];
      return { body: elb('DescribeTargetHealth', `<TargetHealthDescriptions>${members.map(([id, s]) => `<member><Target><Id>${id}</Id><Port>80</Port></Target><TargetHealth><State>${s}</State></TargetHealth></member>`).join('')}</TargetHealthDescriptions>`) };
    }
    case 'DescribeTargetGroupAttributes':
      // TG1 states its delay; TG2 does not (ELBv2's default, 300 s).
      return { body: elb('DescribeTargetGroupAttributes', `<Attributes>${r.params['TargetGroupArn'] === TG1 ? '<member><Key>deregistration_delay.timeout_seconds</Key><Value>120</Value></member>' : ''}</Attributes>`) };
    case 'DescribeMaintenanceWindows':
      return {
        body: JSON.stringify(
          r.json['NextToken'] === 'w2'
            ? { WindowIdentities: [{ WindowId: 'mw-0000000000000002', Name: 'FW-api-Mainfleet', Enabled: false, Duration: 3, Cutoff: 1, Schedule: 'cron(0 4 ? * SAT *)', ScheduleTimezone: 'Europe/Paris' }] }
            : { WindowIdentities: [{ WindowId: 'mw-0000000000000001', Name: 'FW-web-Mainfleet', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'cron(0 3 ? * SUN *)' }], NextToken: 'w2' },
        ),
      };
    case 'ListTagsForResource':
      return { body: JSON.stringify({ TagList: [{ Key: KEY, Value: r.json['ResourceId'] === 'mw-0000000000000001' ? 'web' : 'api' }, { Key: 'owner', Value: 'ops' }] }) };
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


describe('snapshot, provider: aws', () => {
  it('holds the instances, tags, target groups and windows the fakes served, following every page, with read requests only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-snap-'));
    const config = join(dir, 'fleetwarden.yaml');
    const text = 'provider: aws\naws: { region: eu-west-1 }\nssm: { discovery: true }\ngroups:\n  - name: web\n    fleets: { main: { desired: 2 } }\n  - name: api\n    fleets: { main: { desired: 1 } }\n';
    writeFileSync(config, text);
    const out = join(dir, 'world.json');
    const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
    const r = await runCli(['snapshot', '--config', config, '--state-dir', join(dir, 'state'), '--out', out, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual([summary['provider'], summary['instances'], summary['targetGroups'], summary['windows'], summary['measured']], ['aws', 3, 2, 2, []]);

    const w = JSON.parse(readFileSync(out, 'utf8')) as { version: number; provider: string; config: { text: string }; instances: unknown[]; targetGroups: unknown[]; windows: { id: string; name: string; enabled: boolean; durationHours: number; cutoffHours: number; timezone?: string; tags: Record<string, string> }[]; store: { read: boolean; detail: string } };
    assert.equal(w.version, 1);
    assert.equal(w.config.text, text, 'the current configuration, verbatim');
    assert.deepEqual(w.instances, [
      { id: A.id, group: 'web', tags: A.tags, zone: A.zone, type: A.type, power: 'stopped', agentSeenAt: null },
      { id: B.id, group: 'web', tags: B.tags, zone: B.zone, type: B.type, power: 'running', agentSeenAt: null },
      { id: C.id, group: 'api', tags: C.tags, zone: C.zone, type: C.type, power: 'pending', agentSeenAt: null },
    ]);
    assert.deepEqual(w.targetGroups, [
      { id: TG2, deregistrationDelayMs: 300_000, members: [C.id] },
      { id: TG1, deregistrationDelayMs: 120_000, members: [A.id, B.id] },
    ]);
    assert.deepEqual(
      w.windows.map((x) => [x.id, x.name, x.enabled, x.durationHours, x.cutoffHours, x.timezone, x.tags]),
      [
        ['mw-0000000000000001', 'FW-web-Mainfleet', true, 2, 0, undefined, { [KEY]: 'web', owner: 'ops' }],
        ['mw-0000000000000002', 'FW-api-Mainfleet', false, 3, 1, 'Europe/Paris', { [KEY]: 'api', owner: 'ops' }],
      ],
    );
    assert.equal(w.store.read, false, 'no store: the snapshot says so and goes on');
    assert.match(w.store.detail, /no store at /);
    assert.equal(existsSync(join(dir, 'state', 'state.db')), false, 'no store is created');

    // Paging: each listing asked for its second page with the token the first one gave.
    assert.deepEqual(fake.calls('DescribeInstances').map((c) => c.params['NextToken']), [undefined, 'p2']);
    assert.deepEqual(fake.calls('DescribeTargetGroups').map((c) => c.params['Marker']), [undefined, 'm2']);
    assert.deepEqual(fake.calls('DescribeMaintenanceWindows').map((c) => c.json['NextToken']), [undefined, 'w2']);
    // Read-only: every request is an operation the adapters declare as not mutating, and none that mutates.
    const readOnly = new Set([...EC2_CALLS, ...ELBV2_CALLS, ...SSM_CALLS].filter((c) => !c.mutating).map((c) => `${c.service}:${c.operation}`));
    const made = [...new Set(fake.requests.map((q) => `${q.service}:${q.action}`))].sort();
    assert.deepEqual(made.filter((m) => !readOnly.has(m)), [], `requests made: ${made.join(', ')}`);
    assert.ok(made.includes('ec2:DescribeInstances') && made.includes('elasticloadbalancing:DescribeTargetHealth') && made.includes('ssm:ListTagsForResource'));
    assert.doesNotMatch(r.stdout + r.stderr, /test-secret/);

    // The world simulates without any simulator section: its three instances, nothing invented, no AWS call made.
    const calls = fake.requests.length;
    const lower = join(dir, 'lower.yaml');
    writeFileSync(lower, text.replace('desired: 2', 'desired: 1'));
    const sim = await runCli(['simulate', '--world', out, '--config', lower, '--from', '2026-06-01T00:00:00Z', '--to', '2026-06-02T00:00:00Z', '--json'], env);
    assert.equal(sim.status, 0, sim.stderr);
    const c = JSON.parse(sim.stdout) as { current: { report: { timeInState: Record<string, number>; starts: number } }; new: { report: { timeInState: Record<string, number>; starts: number } } };
    const total = (t: Record<string, number>): number => Object.values(t).reduce((x, y) => x + y, 0);
    assert.equal(total(c.current.report.timeInState), 3 * 86_400_000, 'three instances for a day');
    assert.equal(total(c.new.report.timeInState), 3 * 86_400_000);
    // web has A stopped and B running: the current configuration (desired 2) starts A, the new one (1) starts none.
    assert.deepEqual([c.current.report.starts, c.new.report.starts], [1, 0]);
    assert.ok((c.new.report.timeInState['running'] ?? 0) < (c.current.report.timeInState['running'] ?? 0));
    assert.equal(fake.requests.length, calls, 'simulating touches no cloud');
  });

  it('a provider error fails the snapshot and leaves no world file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-snap-'));
    const config = join(dir, 'fleetwarden.yaml');
    writeFileSync(config, 'provider: aws\naws: { region: eu-west-1 }\ngroups:\n  - name: web\n    fleets: { main: { desired: 2 } }\n');
    const saved = fake.handler;
    fake.handler = (q) => (q.action === 'DescribeInstances' ? { status: 403, body: '<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>' } : saved(q));
    try {
      const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'eu-west-1', AWS_MAX_ATTEMPTS: '1' };
      const r = await runCli(['snapshot', '--config', config, '--state-dir', join(dir, 'state'), '--out', join(dir, 'world.json')], env);
      assert.equal(r.status, 1, 'an operational failure, not bad input');
      assert.match(r.stderr, /error: cannot read the fleet \(nothing written\): UnauthorizedOperation/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'one line, no stack');
      assert.equal(existsSync(join(dir, 'world.json')), false);
    } finally {
      fake.handler = saved;
    }
  });
});
