/** SSM adapter wire contract: window discovery, SendCommand with the helper, invocation results, errors, calls. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SSMClient } from '@aws-sdk/client-ssm';
import { namingFor } from '../../src/config/config.js';
import { ssmWindowsForGroup } from '../../src/config/ssm-windows.js';
import { VirtualClock } from '../../src/domain/time.js';
import { ProviderError } from '../../src/domain/errors.js';
import { SsmAdapter } from '../../src/providers/aws/ssm.js';
import { FakeAws } from './fake-aws.js';

const fake = new FakeAws();
let endpoint = '';
before(async () => {
  endpoint = await fake.start();
});
after(() => fake.stop());

const json = (o: unknown): { body: string } => ({ body: JSON.stringify(o) });

/** Answers DescribeInstanceInformation: every asked instance online on Linux unless listed otherwise. */
function info(r: { json: Readonly<Record<string, unknown>> }, special: Record<string, [string, string]> = {}): { body: string } {
  const ids = ((r.json['Filters'] as { Values: string[] }[] | undefined)?.[0]?.Values ?? []).filter((id) => special[id]?.[0] !== 'absent');
  return json({ InstanceInformationList: ids.map((id) => ({ InstanceId: id, PingStatus: special[id]?.[0] ?? 'Online', PlatformType: special[id]?.[1] ?? 'Linux' })) });
}

function adapter(clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z')), eventDir = '/etc/fleetwarden/events/'): SsmAdapter {
  const client = new SSMClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
  return new SsmAdapter({ client, clock, naming: { ...namingFor('fleetwarden'), eventDir } });
}

describe('SSM adapter (wire contract)', () => {
  it('lists windows named by the convention with their schedule fields and tags; a steady-state list costs one call', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeMaintenanceWindows') {
        return r.json['NextToken'] === undefined
          ? json({ WindowIdentities: [{ WindowId: 'mw-0000000000000001', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 1, Schedule: 'cron(0 2 * * ? *)', ScheduleTimezone: 'Europe/London', ScheduleOffset: 2, NextExecutionTime: '2026-06-02T02:00+01:00' }, { WindowId: 'mw-0000000000000009', Name: 'Patch-Other', Schedule: 'rate(1 day)', Duration: 1, Cutoff: 0 }], NextToken: 'p2' })
          : json({ WindowIdentities: [{ WindowId: 'mw-0000000000000002', Name: 'FW-GlobalDefaultMaintenanceWindow', Enabled: false, Duration: 1, Cutoff: 0, Schedule: 'cron(0 4 ? * SUN *)' }] });
      }
      return json({ TagList: r.json['ResourceId'] === 'mw-0000000000000001' ? [{ Key: 'fleetwarden:group-name', Value: 'web' }] : [] });
    };
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const ssm = adapter(clock);
    const windows = await ssm.list();
    assert.deepEqual(windows[0], { id: 'mw-0000000000000001', name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, cutoffHours: 1, enabled: true, tags: { 'fleetwarden:group-name': 'web' }, timezone: 'Europe/London', offsetDays: 2, nextExecutionTime: '2026-06-02T02:00+01:00' });
    assert.deepEqual(windows.map((w) => [w.name, w.enabled]), [['FW-web', true], ['FW-GlobalDefaultMaintenanceWindow', false]], 'other names are not ours');
    assert.equal(fake.calls('ListTagsForResource')[0]?.json['ResourceType'], 'MaintenanceWindow');
    fake.requests.length = 0;
    clock.set(clock.now() + 60_000);
    await ssm.list();
    assert.deepEqual([...new Set(fake.requests.map((r) => r.action))], ['DescribeMaintenanceWindows'], 'tags come from the cache');
  });

  it('rate() windows: CreatedDate is read with GetMaintenanceWindow once per window (never for cron ones) and anchors the schedule', async () => {
    fake.requests.length = 0;
    const created = Date.parse('2026-05-03T09:17:00Z');
    fake.handler = (r) => {
      if (r.action === 'DescribeMaintenanceWindows') {
        return json({
          WindowIdentities: [
            { WindowId: 'mw-0000000000000r01', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'rate(7 days)' },
            { WindowId: 'mw-0000000000000r02', Name: 'FW-api', Enabled: true, Duration: 1, Cutoff: 0, Schedule: 'rate(1 day)', StartDate: '2026-01-01T00:00:00Z' },
            { WindowId: 'mw-0000000000000c01', Name: 'FW-db', Enabled: true, Duration: 1, Cutoff: 0, Schedule: 'cron(0 2 * * ? *)' },
          ],
        });
      }
      if (r.action === 'GetMaintenanceWindow') return json({ WindowId: r.json['WindowId'], CreatedDate: created / 1000 });
      return json({ TagList: [{ Key: 'fleetwarden:group-name', Value: 'web' }] });
    };
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const ssm = adapter(clock);
    const windows = await ssm.list();
    assert.deepEqual(fake.calls('GetMaintenanceWindow').map((c) => c.json), [{ WindowId: 'mw-0000000000000r01' }, { WindowId: 'mw-0000000000000r02' }], 'one call per rate() window, none for cron');
    assert.deepEqual(windows.map((w) => w.createdAt), ['2026-05-03T09:17:00.000Z', '2026-05-03T09:17:00.000Z', undefined]);
    for (const later of [60_000, 3_600_000]) {
      clock.set(clock.now() + later);
      await ssm.list();
    }
    assert.equal(fake.calls('GetMaintenanceWindow').length, 2, 'not asked again on later ticks: a creation time never changes');
    // `rate(7 days)` with no StartDate runs every 7 days from its creation: it no longer fails closed.
    const found = ssmWindowsForGroup(windows, 'web', namingFor('fleetwarden'), clock.now());
    const web = found.windows.find((w) => w.name === 'FW-web');
    assert.equal(web?.error, undefined);
    assert.equal(web?.schedule?.next(clock.now(), 1)[0]?.start, created + 5 * 7 * 86_400_000);
  });

  it('a rate() window whose CreatedDate cannot be read fails closed with the reason, alone, and is asked again later', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeMaintenanceWindows') return json({ WindowIdentities: [{ WindowId: 'mw-0000000000000r01', Name: 'FW-web', Enabled: true, Duration: 2, Cutoff: 0, Schedule: 'rate(7 days)' }, { WindowId: 'mw-0000000000000c01', Name: 'FW-web-Mainfleet', Enabled: true, Duration: 1, Cutoff: 0, Schedule: 'cron(0 2 * * ? *)' }] });
      if (r.action === 'GetMaintenanceWindow') return { status: 400, body: JSON.stringify({ __type: 'AccessDeniedException', Message: 'not authorized to perform: ssm:GetMaintenanceWindow' }) };
      return json({ TagList: [{ Key: 'fleetwarden:group-name', Value: 'web' }] });
    };
    const clock = new VirtualClock(Date.parse('2026-06-01T00:00:00Z'));
    const ssm = adapter(clock);
    const found = ssmWindowsForGroup(await ssm.list(), 'web', namingFor('fleetwarden'), clock.now());
    assert.match(found.windows.find((w) => w.name === 'FW-web')?.error ?? '', /give a start date or the creation time \(its CreatedDate could not be read: AccessDeniedException: not authorized/);
    assert.equal(found.windows.find((w) => w.name === 'FW-web-Mainfleet')?.error, undefined, 'the other window is unaffected');
    clock.set(clock.now() + 60_000);
    await ssm.list();
    assert.equal(fake.calls('GetMaintenanceWindow').length, 1, 'not every tick');
    clock.set(clock.now() + 300_000);
    await ssm.list();
    assert.equal(fake.calls('GetMaintenanceWindow').length, 2, 'but again after the refresh interval');
  });

  it('sends events with AWS-RunShellScript and the helper, 50 instances a call, every value quoted', async () => {
    fake.requests.length = 0;
    let n = 0;
    fake.handler = (r) => (r.action === 'DescribeInstanceInformation' ? info(r) : json({ Command: { CommandId: `cmd-${++n}` } }));
    const ids = Array.from({ length: 120 }, (_, i) => `i-${i}`);
    const handle = await adapter().runEvent('web', ids, 'instance-state-change-draining', ['draining', "run'ning"], 30_000);
    const calls = fake.calls('SendCommand');
    assert.deepEqual(calls.map((c) => (c.json['InstanceIds'] as string[]).length), [50, 50, 20]);
    const first = calls[0]?.json ?? {};
    assert.equal(first['DocumentName'], 'AWS-RunShellScript');
    assert.equal(first['TimeoutSeconds'], 30);
    const script = ((first['Parameters'] as Record<string, string[]>)['commands'] ?? [])[0] ?? '';
    assert.match(script, /^#!\/bin\/sh/);
    assert.match(script, /event='instance-state-change-draining'/);
    assert.match(script, /'draining' 'run'\\''ning'/);
    assert.equal(handle.id, 'cmd-1,cmd-2,cmd-3');
    assert.equal(handle.event, 'instance-state-change-draining');
  });

  it('reads results per invocation: the helper’s status line decides; SSM failures and missing lines are failures', async () => {
    fake.handler = (r) => {
      if (r.action !== 'ListCommandInvocations') return json({});
      return json({
        CommandInvocations: [
          { InstanceId: 'i-ok', Status: 'Success', CommandPlugins: [{ Output: 'ready\nFLEETWARDEN-STATUS ok 0\n' }] },
          { InstanceId: 'i-script-failed', Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-STATUS failed 3\n' }] },
          { InstanceId: 'i-no-line', Status: 'Success', CommandPlugins: [{ Output: 'something else' }] },
          { InstanceId: 'i-undeliverable', Status: 'Failed', StatusDetails: 'Undeliverable', CommandPlugins: [] },
          { InstanceId: 'i-slow', Status: 'InProgress', CommandPlugins: [] },
        ],
      });
    };
    const handle = { id: 'cmd-1', kind: 'event' as const, group: 'web', instanceIds: [], event: 'instance-ready-for-operation' as const, sentAt: Date.parse('2026-06-01T00:00:00Z') };
    const r = await adapter().results([handle]);
    assert.deepEqual(r.events.map((e) => [e.instanceId, e.ok, e.detail]), [
      ['i-ok', true, 'exit 0'],
      ['i-script-failed', false, 'exit 3'],
      ['i-no-line', false, 'no status line in the output'],
      ['i-undeliverable', false, 'Failed: Undeliverable'],
    ]);
    assert.deepEqual(r.finished, [], 'i-slow is still running: the command is asked again next tick');
    assert.equal(fake.calls('ListCommandInvocations').at(-1)?.json['Details'], true);
  });

  it('closes the loop: the script SendCommand carried, run under dash on a real script directory, yields the result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-ssm-events-'));
    writeFileSync(join(dir, 'enter-maintenance-window-period'), '#!/bin/sh\necho "entering with $# args: $1"\nexit 0\n');
    chmodSync(join(dir, 'enter-maintenance-window-period'), 0o755);
    let output = '';
    fake.handler = (r) => {
      if (r.action === 'DescribeInstanceInformation') return info(r);
      if (r.action === 'SendCommand') {
        const script = ((r.json['Parameters'] as Record<string, string[]>)['commands'] ?? [])[0] ?? '';
        output = spawnSync('/usr/bin/dash', ['-c', script], { encoding: 'utf8' }).stdout;
        return json({ Command: { CommandId: 'cmd-loop' } });
      }
      return json({ CommandInvocations: [{ InstanceId: 'i-1', Status: 'Success', CommandPlugins: [{ Output: output }] }] });
    };
    const ssm = adapter(undefined, dir);
    const handle = await ssm.runEvent('web', ['i-1'], 'enter-maintenance-window-period', ['$(reboot)'], 30_000);
    const r = await ssm.results([handle]);
    assert.deepEqual(r.events.map((e) => [e.instanceId, e.ok]), [['i-1', true]]);
    assert.match(output, /entering with 1 args: \$\(reboot\)/);
    assert.deepEqual(r.finished, ['cmd-loop']);
  });

  it('sends only to instances with an SSM agent online on a platform it has a script for; the others fail at once', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => (r.action === 'DescribeInstanceInformation' ? info(r, { 'i-off': ['ConnectionLost', 'Linux'], 'i-mac': ['Online', 'MacOS'], 'i-none': ['absent', ''] }) : r.action === 'SendCommand' ? json({ Command: { CommandId: 'cmd-m' } }) : json({ CommandInvocations: [{ InstanceId: 'i-ok', Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-STATUS ok 0' }] }] }));
    const ssm = adapter();
    const handle = await ssm.runEvent('web', ['i-ok', 'i-off', 'i-mac', 'i-none'], 'instance-ready-for-operation', [], 30_000);
    assert.deepEqual(fake.calls('SendCommand').map((c) => c.json['InstanceIds']), [['i-ok']]);
    const r = await ssm.results([handle]);
    assert.deepEqual(r.events.map((e) => [e.instanceId, e.ok, e.detail]), [
      ['i-off', false, 'Undeliverable: no SSM agent online'],
      ['i-mac', false, 'Invalid Platform: MacOS'],
      ['i-none', false, 'Undeliverable: no SSM agent online'],
      ['i-ok', true, 'exit 0'],
    ]);
  });

  it('Windows instances get AWS-RunPowerShellScript with the PowerShell helper; a mixed command is one SendCommand per document', async () => {
    fake.requests.length = 0;
    let n = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeInstanceInformation') return info(r, { 'i-win1': ['Online', 'Windows'], 'i-win2': ['Online', 'Windows'] });
      if (r.action === 'SendCommand') return json({ Command: { CommandId: `cmd-${++n}` } });
      const win = r.json['CommandId'] === 'cmd-2';
      return json({ CommandInvocations: (win ? ['i-win1', 'i-win2'] : ['i-lin']).map((id) => ({ InstanceId: id, Status: 'Success', CommandPlugins: [{ Output: win ? 'stopping IIS\r\nFLEETWARDEN-STATUS ok 0\r\n' : 'FLEETWARDEN-STATUS ok 0\n' }] })) });
    };
    const ssm = adapter();
    const handle = await ssm.runEvent('web', ['i-lin', 'i-win1', 'i-win2'], 'instance-ready-for-shutdown', ["run'ning"], 30_000);
    const sends = fake.calls('SendCommand');
    assert.deepEqual(sends.map((c) => [c.json['DocumentName'], c.json['InstanceIds']]), [['AWS-RunShellScript', ['i-lin']], ['AWS-RunPowerShellScript', ['i-win1', 'i-win2']]]);
    const ps = (sends[1]?.json['Parameters'] as Record<string, string[]>)['commands']?.[0] ?? '';
    assert.match(ps, /^# Fleetwarden event helper \(PowerShell\)/);
    assert.match(ps, /\$fwDir = 'C:\\ProgramData\\Fleetwarden\\events'/);
    assert.match(ps, /\$fwEvent = 'instance-ready-for-shutdown'/);
    assert.match(ps, /\$fwArgs = \[string\[\]\]@\('run''ning'\)/);
    assert.deepEqual((sends[1]?.json['Parameters'] as Record<string, string[]>)['executionTimeout'], ['40']);
    assert.match((sends[0]?.json['Parameters'] as Record<string, string[]>)['commands']?.[0] ?? '', /^#!\/bin\/sh/);
    assert.equal(handle.id, 'cmd-1,cmd-2');
    const r = await ssm.results([handle]);
    assert.deepEqual(r.events.map((e) => [e.instanceId, e.ok]), [['i-lin', true], ['i-win1', true], ['i-win2', true]]);
    assert.deepEqual(r.finished, ['cmd-1,cmd-2']);
  });

  it('bypass checks go to Windows instances as PowerShell; an instance of the other OS than the path’s is answered unknown', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeInstanceInformation') return info(r, { 'i-win': ['Online', 'Windows'] });
      if (r.action === 'SendCommand') return json({ Command: { CommandId: `cmd-${(r.json['InstanceIds'] as string[])[0] ?? ''}` } });
      return json({ CommandInvocations: [{ InstanceId: 'i-win', Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-BYPASS present\r\n' }] }] });
    };
    const ssm = adapter();
    const win = await ssm.checkBypass('web', ['i-win', 'i-lin'], "C:\\fleet\\keep it's up", 'windows');
    const lin = await ssm.checkBypass('web', ['i-lin'], '/etc/keep', 'linux');
    const sends = fake.calls('SendCommand');
    assert.deepEqual(sends.map((c) => [c.json['DocumentName'], c.json['InstanceIds']]), [['AWS-RunPowerShellScript', ['i-win']], ['AWS-RunShellScript', ['i-lin']]]);
    assert.deepEqual((sends[0]?.json['Parameters'] as Record<string, string[]>)['commands'], ["if (Test-Path -LiteralPath 'C:\\fleet\\keep it''s up') { 'FLEETWARDEN-BYPASS present' } else { 'FLEETWARDEN-BYPASS absent' }"]);
    const r = await ssm.results([win]);
    assert.deepEqual(r.bypass.map((b) => [b.instanceId, b.result]), [['i-lin', 'unknown'], ['i-win', 'present']], 'a Linux instance cannot check a Windows path: unknown, so it is not stopped');
    assert.equal(lin.id, 'cmd-i-lin');
  });

  it('maintenance scripts: sent once per command id with the script and its timeout; results by the invocation’s status and exit code', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeInstanceInformation') return info(r);
      if (r.action === 'SendCommand') return json({ Command: { CommandId: `ssm-${(r.json['InstanceIds'] as string[])[0] ?? ''}` } });
      const id = r.json['CommandId'];
      if (id === 'ssm-i-ok') return json({ CommandInvocations: [{ InstanceId: 'i-ok', Status: 'Success', CommandPlugins: [{ Output: 'patched', ResponseCode: 0 }] }] });
      if (id === 'ssm-i-bad') return json({ CommandInvocations: [{ InstanceId: 'i-bad', Status: 'Failed', CommandPlugins: [{ Output: 'no space', ResponseCode: 3 }] }] });
      return json({ CommandInvocations: [{ InstanceId: 'i-slow', Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', CommandPlugins: [{ Output: '', ResponseCode: -1 }] }] });
    };
    const ssm = adapter();
    const ok = await ssm.runScript('web', 'i-ok', 'mw-a', "yum -y update && echo 'done'", 600_000);
    const repeat = await ssm.runScript('web', 'i-ok', 'mw-a', "yum -y update && echo 'done'", 600_000);
    assert.deepEqual(repeat, ok, 'a repeated command id is not sent again');
    const bad = await ssm.runScript('web', 'i-bad', 'mw-b', 'yum -y update', 600_000);
    const slow = await ssm.runScript('web', 'i-slow', 'mw-c', 'yum -y update', 600_000);
    const sends = fake.calls('SendCommand');
    assert.equal(sends.length, 3);
    assert.deepEqual([sends[0]?.json['DocumentName'], (sends[0]?.json['Parameters'] as { commands: string[] }).commands, sends[0]?.json['Comment']], ['AWS-RunShellScript', ["yum -y update && echo 'done'"], 'fleetwarden mw-a']);
    assert.deepEqual((sends[0]?.json['Parameters'] as { executionTimeout: string[] }).executionTimeout, ['610']);
    const r = await ssm.results([ok, bad, slow]);
    assert.deepEqual(r.scripts?.map((x) => [x.commandId, x.instanceId, x.status, x.exitCode, x.output]), [['mw-a', 'i-ok', 'success', 0, 'patched'], ['mw-b', 'i-bad', 'failed', 3, 'no space'], ['mw-c', 'i-slow', 'timed-out', -1, '']]);
    assert.deepEqual(r.finished, ['mw-a', 'mw-b', 'mw-c']);
  });

  it('document tasks: SendCommand carries the document, its parameters only, the task’s output location; any platform', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => (r.action === 'DescribeInstanceInformation' ? info(r, { 'i-win': ['Online', 'Windows'] }) : json({ Command: { CommandId: 'ssm-doc' } }));
    const ssm = adapter();
    const document = { name: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } };
    await ssm.runScript('web', 'i-win', 'mw-scan', 'AWS-RunPatchBaseline Operation=Scan', 3_600_000, { mayRerun: false, document, output: { bucket: 'scripts-bucket', prefix: 'ssm_output/' } });
    const sent = fake.calls('SendCommand')[0]?.json ?? {};
    assert.deepEqual([sent['DocumentName'], sent['Parameters'], sent['OutputS3BucketName'], sent['OutputS3KeyPrefix'], sent['InstanceIds']], ['AWS-RunPatchBaseline', { Operation: ['Scan'] }, 'scripts-bucket', 'ssm_output/', ['i-win']]);
  });

  it('cancel: CancelCommand for the script’s SSM command on that instance; Cancelled reads as cancelled, Cancelling as still running', async () => {
    fake.requests.length = 0;
    fake.handler = (r) => {
      if (r.action === 'DescribeInstanceInformation') return info(r);
      if (r.action === 'SendCommand') return json({ Command: { CommandId: 'ssm-long' } });
      if (r.action === 'CancelCommand') return json({});
      return json({ CommandInvocations: [{ InstanceId: 'i-1', Status: fake.calls('ListCommandInvocations').length === 1 ? 'Cancelling' : 'Cancelled', CommandPlugins: [{ Output: 'half done', ResponseCode: -1 }] }] });
    };
    const ssm = adapter();
    const handle = await ssm.runScript('web', 'i-1', 'mw-long', 'sleep 3600', 3_600_000, { mayRerun: false });
    // After a restart, the handle read back from the store still names SSM's own command id.
    await adapter().cancel({ ...handle }, 'i-1');
    assert.deepEqual(fake.calls('CancelCommand').map((c) => c.json), [{ CommandId: 'ssm-long', InstanceIds: ['i-1'] }]);
    const first = await ssm.results([handle]);
    assert.deepEqual([first.scripts, first.finished], [[], []], 'Cancelling: the script may still run');
    const second = await ssm.results([handle]);
    assert.deepEqual(second.scripts?.map((x) => [x.commandId, x.status, x.output]), [['mw-long', 'cancelled', 'half done']]);
  });

  it('bypass checks: present/absent from the output, unknown when the command failed', async () => {
    fake.handler = () => json({ CommandInvocations: [{ InstanceId: 'i-keep', Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-BYPASS present\n' }] }, { InstanceId: 'i-go', Status: 'Success', CommandPlugins: [{ Output: 'FLEETWARDEN-BYPASS absent\n' }] }, { InstanceId: 'i-lost', Status: 'TimedOut', CommandPlugins: [] }] });
    const r = await adapter().results([{ id: 'cmd-b', kind: 'bypass', group: 'web', instanceIds: [], sentAt: 0 }]);
    assert.deepEqual(r.bypass.map((b) => [b.instanceId, b.result]), [['i-keep', 'present'], ['i-go', 'absent'], ['i-lost', 'unknown']]);
  });

  it('maps errors at the boundary: throttling is retryable, an invalid instance is not', async () => {
    fake.handler = () => ({ status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) });
    await assert.rejects(adapter().list(), (e: unknown) => e instanceof ProviderError && e.kind === 'retryable' && e.code === 'ThrottlingException');
    fake.handler = () => ({ status: 400, body: JSON.stringify({ __type: 'InvalidInstanceId', Message: 'Instances not in a valid state for account' }) });
    await assert.rejects(adapter().runEvent('web', ['i-1'], 'instance-ready-for-operation', [], 30_000), (e: unknown) => e instanceof ProviderError && e.kind !== 'retryable' && e.code === 'InvalidInstanceId');
  });
});
