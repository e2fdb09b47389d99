import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { iamPolicy } from '../../src/providers/aws/iam.js';

describe('fleetwarden aws iam-policy', () => {
  it('grants only what the configuration uses, and acts only on resources tagged with its groups', () => {
    const minimal = iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web' }, { name: 'api' }] }));
    assert.deepEqual(minimal.Statement.map((s) => s.Sid), ['ObserveFleet', 'StartStopGroupInstances', 'DrainGroupTargets']);
    const start = minimal.Statement.find((s) => s.Sid === 'StartStopGroupInstances');
    assert.deepEqual(start?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['web', 'api'] } });
    assert.ok(minimal.Statement.filter((s) => s.Resource === '*').every((s) => s.Action.every((a) => /:(Describe|List|Get)/.test(a))), 'only read-only actions on *');

    const full = iamPolicy(
      parseConfig({
        preset: 'clonesquad',
        provider: 'aws',
        ssm: { discovery: true },
        store: { kind: 'dynamodb', table: 'fleetwarden-state' },
        aws: { outputBucket: 'ops-logs', outputPrefix: 'fw/' },
        groups: [{ name: 'web', events: { 'instance-ready-for-shutdown': { enabled: true } } }],
      }),
    );
    const sids = full.Statement.map((s) => s.Sid);
    for (const sid of ['DiscoverMaintenanceWindows', 'RunEventScriptsDocument', 'RunEventScriptsOnGroupInstances', 'ReadEventResults', 'CommandOutput', 'StateTable']) assert.ok(sids.includes(sid), sid);
    assert.equal(full.Statement.find((s) => s.Sid === 'CommandOutput')?.Resource, 'arn:aws:s3:::ops-logs/fw/*');
    assert.equal(full.Statement.find((s) => s.Sid === 'StateTable')?.Resource, 'arn:aws:dynamodb:*:*:table/fleetwarden-state');
    assert.deepEqual(Object.keys(full.Statement.find((s) => s.Sid === 'StartStopGroupInstances')?.Condition?.['StringEquals'] ?? {}), ['aws:ResourceTag/clonesquad:group-name']);
  });

  it('maintenance tasks: their documents, on the group’s instances, and ssm:CancelCommand', () => {
    const window = (tasks: unknown[]): unknown => ({ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, tasks });
    const policy = iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web', maintenance: { windows: [window([{ name: 'scan', document: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } }, { name: 'check', document: 'Perform-Healthcheck', priority: 2 }, { name: 'report', command: 'uptime', priority: 3 }])] } }] }));
    const sid = (id: string) => policy.Statement.find((s) => s.Sid === id);
    assert.deepEqual(sid('RunTaskDocuments')?.Resource, ['arn:aws:ssm:*::document/AWS-RunPatchBaseline', 'arn:aws:ssm:*::document/AWS-RunShellScript', 'arn:aws:ssm:*:*:document/Perform-Healthcheck']);
    assert.deepEqual(sid('RunTasksOnGroupInstances')?.Condition, { StringEquals: { 'aws:ResourceTag/fleetwarden:group-name': ['web'] } });
    assert.deepEqual(sid('CancelTaskCommands')?.Action, ['ssm:CancelCommand']);
    assert.equal(iamPolicy(parseConfig({ provider: 'aws', groups: [{ name: 'web' }] })).Statement.some((s) => s.Action.includes('ssm:CancelCommand')), false, 'not without tasks');
    const agent = iamPolicy(parseConfig({ provider: 'aws', controller: { eventDelivery: 'agent' }, groups: [{ name: 'web', maintenance: { windows: [window([{ name: 'report', command: 'uptime' }])] } }] }));
    assert.equal(agent.Statement.some((s) => s.Action.includes('ssm:SendCommand')), false, 'the agent runs tasks: no SSM for them');
  });
});
