/** `fleetwarden config import-ec2-scheduler`: the seed 003 tables' items into Fleetwarden's configuration. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { importEc2Scheduler } from '../../src/config/import-ec2-scheduler.js';
import { parseConfigText } from '../../src/config/load.js';
import { ValidationErrors } from '../../src/domain/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
/** The seed's own examples, verbatim. */
const WORKLOAD = join(ROOT, 'examples/ec2-scheduler/WorkloadSpecification.json');
const TIER = join(ROOT, 'examples/ec2-scheduler/TierSpecification.json');
const read = (file: string): { name: string; text: string } => ({ name: file, text: readFileSync(file, 'utf8') });

function problems(sources: { name: string; text: string }[]): string[] {
  try {
    importEc2Scheduler(sources);
    return [];
  } catch (err) {
    if (!(err instanceof ValidationErrors)) throw err;
    return err.issues.map((i) => i.message);
  }
}

describe('config import-ec2-scheduler', () => {
  it('the seed’s own WorkloadSpecification and TierSpecification examples convert to a valid configuration that means the same', () => {
    const { yaml, workloads } = importEc2Scheduler([read(WORKLOAD), read(TIER)]);
    assert.deepEqual(workloads, ['BotoTestCase1']);
    const config = parseConfigText(yaml, 'imported.yaml');
    assert.equal(config.provider, 'aws');
    const [g] = config.groups;
    assert.ok(g);
    assert.equal(g.name, 'BotoTestCase1');
    const w = g.workload;
    assert.ok(w);
    assert.deepEqual(w.envFilter, { key: 'Environment', value: 'ENV001' }, 'EnvFilterTagName/Value select the instances');
    assert.equal(w.tierTag, 'Role');
    assert.equal(w.region, 'us-west-2');
    assert.deepEqual(w.ssmOutput, { bucket: 'myBucketName', prefix: 'ssmRemoteComandResults' });
    assert.deepEqual(w.tiers, [{ name: 'Role_Web', start: { sequence: 2, synchronous: false, readinessTimeoutMs: 15 * 60_000, onTimeout: 'abort' }, stop: { sequence: 0, synchronous: false }, bypassFile: { path: '/tmp/StopOverride', os: 'linux' }, ignoreStop: false }]);
    assert.equal(g.fileValues['workload.state'], 'undefined', 'hands off until the user schedules it');
  });

  it('the same items as `aws dynamodb scan` prints them (typed values), and an array of items, give the same configuration', () => {
    const plain = importEc2Scheduler([read(WORKLOAD), read(TIER)]).yaml.split('\n').filter((l) => !l.startsWith('#'));
    const scan = {
      Items: [
        { SpecName: { S: 'BotoTestCase1' }, EnvFilterTagName: { S: 'Environment' }, EnvFilterTagValue: { S: 'ENV001' }, Region: { S: 'us-west-2' }, SSMS3BucketName: { S: 'myBucketName' }, SSMS3KeyPrefixName: { S: 'ssmRemoteComandResults' }, TierFilterTagName: { S: 'Role' } },
        { SpecName: { S: 'BotoTestCase1' }, TierTagValue: { S: 'Role_Web' }, TierStart: { M: { TierSequence: { N: '2' }, TierSynchronization: { S: 'False' } } }, TierStop: { M: { TierSequence: { S: '0' }, TierStopOverrideFilename: { S: '/tmp/StopOverride' }, TierStopOverrideOperatingSystem: { S: 'Linux' }, TierSynchronization: { BOOL: false } } } },
      ],
    };
    assert.deepEqual(importEc2Scheduler([{ name: 'scan.json', text: JSON.stringify(scan) }]).yaml.split('\n').filter((l) => !l.startsWith('#')), plain);
    const array = JSON.stringify([JSON.parse(read(WORKLOAD).text), JSON.parse(read(TIER).text)]);
    assert.deepEqual(importEc2Scheduler([{ name: 'items.json', text: array }]).yaml.split('\n').filter((l) => !l.startsWith('#')), plain);
  });

  it('"True"/"False" and string numbers as the seed writes them; DisableAllSchedulingActions becomes the kill switch', () => {
    const w = { ...(JSON.parse(read(WORKLOAD).text) as Record<string, unknown>), DisableAllSchedulingActions: 'True' };
    const t = { SpecName: 'BotoTestCase1', TierTagValue: 'DB', TierStart: { TierSequence: '0', TierSynchronization: 'True' }, TierStop: { TierSequence: '20', TierSynchronization: 'TRUE' } };
    const [g] = parseConfigText(importEc2Scheduler([{ name: 'x.json', text: JSON.stringify([w, t]) }]).yaml).groups;
    assert.ok(g);
    assert.equal(g.fileValues['workload.killSwitch'], true);
    assert.deepEqual([g.workload?.tiers[0]?.start.synchronous, g.workload?.tiers[0]?.stop.sequence, g.workload?.tiers[0]?.bypassFile], [true, 20, null]);
  });

  it('every unknown or invalid field is reported by name, all at once', () => {
    const w = { ...(JSON.parse(read(WORKLOAD).text) as Record<string, unknown>), Owner: 'ops', Region: 'Oregon' };
    const tiers = [
      { SpecName: 'BotoTestCase1', TierTagValue: 'Web', TierStart: { TierSequence: 'two', TierSynchronisation: 'False' }, TierStop: { TierSequence: '0', TierStopOverrideFilename: '/tmp/keep' } },
      { SpecName: 'BotoTestCase1', TierTagValue: 'DB', TierSequence: '1', TierStart: { TierSequence: '1', TierSynchronization: 'Yes' }, TierStop: { TierSequence: '1001', TierStopOverrideFilename: 'C:\\keep', TierStopOverrideOperatingSystem: 'BeOS' } },
      { SpecName: 'Payroll', TierTagValue: 'App', TierStart: { TierSequence: '0' }, TierStop: { TierSequence: '0' } },
    ];
    assert.deepEqual(problems([{ name: 'w.json', text: JSON.stringify(w) }, { name: 't.json', text: JSON.stringify(tiers) }]), [
      'w.json.Owner: unknown field of a WorkloadSpecification (known: SpecName, EnvFilterTagName, EnvFilterTagValue, TierFilterTagName, Region, SSMS3BucketName, SSMS3KeyPrefixName, DisableAllSchedulingActions)',
      'w.json.Region: expected an AWS region such as us-west-2, got "Oregon"',
      't.json[0].TierStart.TierSynchronisation: unknown field of a TierStart (known: TierSequence, TierSynchronization)',
      't.json[0].TierStart.TierSequence: expected a whole number from 0 to 1000 (e.g. "2"), got "two"',
      't.json[0].TierStop.TierStopOverrideOperatingSystem: is required with TierStopOverrideFilename ("Linux" or "Windows")',
      't.json[1].TierSequence: unknown field of a TierSpecification (known: SpecName, TierTagValue, TierStart, TierStop); it belongs inside TierStart or TierStop',
      't.json[1].TierStart.TierSynchronization: expected "True" or "False", got "Yes"',
      't.json[1].TierStop.TierSequence: expected a whole number from 0 to 1000 (e.g. "2"), got "1001"',
      't.json[1].TierStop.TierStopOverrideOperatingSystem: expected "Linux" or "Windows", got "BeOS"',
      't.json[2].SpecName: no WorkloadSpecification item has SpecName "Payroll" (workloads: BotoTestCase1)',
    ]);
    // What only the configuration's own rules refuse is named by the item it came from.
    assert.deepEqual(problems([{ name: 'w.json', text: JSON.stringify({ ...JSON.parse(read(WORKLOAD).text), EnvFilterTagName: 'aws:cloudformation:stack-name' }) }, read(TIER)]), ['w.json (SpecName "BotoTestCase1") → workload.envFilterTag.key: tag keys starting with aws: are reserved by AWS']);
    assert.deepEqual(problems([{ name: 'bad.json', text: '{"SpecName": ' }]).map((m) => m.replace(/:.*$/, '')), ['bad.json']);
    assert.deepEqual(problems([read(WORKLOAD)]), [`${WORKLOAD}.SpecName: no TierSpecification item for workload "BotoTestCase1": a workload needs at least one tier`]);
  });

  it('the command: YAML on stdout or --out FILE; on any problem exit 2 naming the field, nothing printed or written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-import-'));
    const ok = spawnSync(process.execPath, [BIN, 'config', 'import-ec2-scheduler', WORKLOAD, TIER], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ {6}envFilterTag:\n {8}key: Environment\n {8}value: ENV001$/m);
    const out = join(dir, 'fleetwarden.yaml');
    const written = spawnSync(process.execPath, [BIN, 'config', 'import-ec2-scheduler', WORKLOAD, TIER, '--out', out], { encoding: 'utf8' });
    assert.equal(written.status, 0, written.stderr);
    assert.equal(readFileSync(out, 'utf8'), ok.stdout);
    assert.equal(spawnSync(process.execPath, [BIN, 'config', 'validate', out], { encoding: 'utf8' }).status, 0, 'the written file validates');
    const bad = join(dir, 'tier.json');
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(TIER, 'utf8')), TierStop: { TierSequence: '0', TierSynchronization: 'Maybe' } }));
    const target = join(dir, 'never.yaml');
    const r = spawnSync(process.execPath, [BIN, 'config', 'import-ec2-scheduler', WORKLOAD, bad, '--out', target], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: .*tier\.json\.TierStop\.TierSynchronization: expected "True" or "False", got "Maybe"$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(existsSync(target), false, 'nothing written');
    const none = spawnSync(process.execPath, [BIN, 'config', 'import-ec2-scheduler'], { encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^error: FILE: give at least one JSON file/m);
  });
});
