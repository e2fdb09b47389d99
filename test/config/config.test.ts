import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfigFile, parseConfig, parseConfigText } from '../../src/config/load.js';
import { resolve } from '../../src/config/resolve.js';
import { jsonSchema } from '../../src/config/schema.js';
import { parseCount, resolveCount } from '../../src/domain/counts.js';
import { formatDuration, parseDuration } from '../../src/domain/durations.js';
import { ValidationError, ValidationErrors } from '../../src/domain/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/main.js');
const EXAMPLE = join(ROOT, 'examples/fleetwarden.yaml');
const T = (iso: string): number => Date.parse(iso);

function problems(doc: unknown): string[] {
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ValidationErrors) return err.issues.map((i) => i.message);
    throw err;
  }
  return [];
}

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tempFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fw-config-'));
  const file = join(dir, 'fleetwarden.yaml');
  writeFileSync(file, text);
  return file;
}

describe('counts and durations', () => {
  it('parses N, N% and Np; N% of a fleet is ceil(N/100 × size)', () => {
    assert.equal(resolveCount(parseCount('50%', 'x'), 5), 3);
    assert.equal(resolveCount(parseCount('50p', 'x'), 5), 3);
    assert.equal(resolveCount(parseCount(7, 'x'), 5), 5);
    assert.equal(resolveCount(parseCount('1%', 'x'), 250), 3);
    assert.throws(() => parseCount('abc', 'groups[0].fleets.main.min'), /groups\[0\]\.fleets\.main\.min: expected N, N% or Np, got "abc"/);
    assert.throws(() => parseCount('150%', 'm'), /from 0% to 100%/);
    assert.throws(() => parseCount(-1, 'm'), ValidationError);
  });

  it('parses durations and prints them back', () => {
    assert.equal(parseDuration('2h30m', 'd'), 9_000_000);
    assert.equal(parseDuration('90', 'd'), 90_000);
    assert.equal(parseDuration(45, 'd'), 45_000);
    assert.equal(formatDuration(9_000_000), '2h30m');
    assert.throws(() => parseDuration('10 minutes', 'lifecycle.warmUp'), /lifecycle\.warmUp: expected a duration/);
  });
});

describe('configuration file', () => {
  it('the example configuration is valid', () => {
    const config = loadConfigFile(EXAMPLE);
    assert.deepEqual(config.groups.map((g) => g.name), ['web', 'erp', 'reports']);
    assert.equal(config.groups[1]?.workload?.tiers.length, 3);
  });

  it('reports every problem at once, each with its path and reason, and applies nothing', () => {
    const found = problems({
      groups: [
        {
          name: 'web',
          fleets: { main: { min: 'abc', desired: '120%' } },
          lifecycle: { warmUp: 'soon' },
          maintenance: {
            windows: [
              { name: 'FW-web', schedule: 'cron(0 10 * * * *)', durationHours: 2 },
              { name: 'FW-web-2', schedule: 'cron(0 10 * * ? *)', durationHours: 2, cutoffHours: 2, overrides: { 'fleets.main.min': 'x', 'fleets.bogus': 1 } },
            ],
          },
        },
      ],
    });
    assert.deepEqual(found, [
      'groups[0].fleets.main.min: expected N, N% or Np, got "abc"',
      'groups[0].fleets.main.desired: a percentage must be from 0% to 100%, got 120%',
      'groups[0].lifecycle.warmUp: expected a duration such as 30s, 15m, 1h or 2h30m, got "soon"',
      "groups[0].maintenance.windows[0].schedule: day-of-week: a value is set in both day-of-month and day-of-week; one of them must be '?'",
      'groups[0].maintenance.windows[1].cutoffHours: must be at most duration − 1 (1), got 2',
      'groups[0].maintenance.windows[1].overrides["fleets.main.min"]: expected N, N% or Np, got "x"',
      'groups[0].maintenance.windows[1].overrides["fleets.bogus"]: unknown setting "fleets.bogus"; run \'fleetwarden config explain\' for the list',
    ]);
  });

  it('rejects unknown fields (typos) with their path', () => {
    assert.deepEqual(problems({ groups: [{ name: 'web', fleets: { mian: {} } }] }), ['groups[0].fleets: Unrecognized key: "mian"']);
  });

  it('rejects duplicate names and a group that is both sized and tiered', () => {
    const found = problems({
      groups: [
        { name: 'web', fleets: { main: { min: 1 } }, workload: { tierTag: 'Role', tiers: [{ name: 'DB', start: { sequence: 0 }, stop: { sequence: 0 } }, { name: 'DB', start: { sequence: 1 }, stop: { sequence: 1 } }] } },
        { name: 'web' },
      ],
    });
    assert.deepEqual(found, [
      'groups[1].name: group "web" is declared twice',
      'groups[0].workload: a group is either sized by fleets (min/desired, subfleets) or a tiered workload, not both',
      'groups[0].workload.tiers[1].name: tier "DB" is declared twice',
    ]);
  });

  it('window tasks: every bad value named by its path; drain-only options refused without drain', () => {
    const window = (tasks: unknown[]): unknown => ({ groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, tasks }] } }] });
    const found = problems(window([
      { name: 'a', command: 'x', maxConcurrency: '0', maxErrors: '101%', timeout: '10s', targets: { ids: ['web-1'] } },
      { name: 'a', command: 'x', capacityFloor: '50%', healthCheck: { command: 'true' } },
      { name: 'b', command: 'x', drain: true, capacityFloor: 'lots', targets: {} },
    ]));
    const at = 'groups[0].maintenance.windows[0].tasks';
    assert.deepEqual(found.map((f) => f.split(':')[0]).sort(), [
      `${at}[1].name`,
      `${at}[0].maxConcurrency`,
      `${at}[0].maxErrors`,
      `${at}[0].targets.ids[0]`,
      `${at}[0].timeout`,
      `${at}[1].capacityFloor`,
      `${at}[1].healthCheck`,
      `${at}[2].capacityFloor`,
      `${at}[2].targets`,
    ].sort(), found.join('\n'));
    const ok = parseConfig(window([{ name: 'patch', command: 'yum -y update', maxConcurrency: '10%', maxErrors: 2, drain: true, capacityFloor: '75%', healthCheck: { command: 'true', within: '2m' }, settle: '5s', targets: { fleets: ['main'] } }]));
    const task = ok.groups[0]?.windows[0]?.tasks?.[0];
    assert.deepEqual([task?.maxConcurrency, task?.maxErrors, task?.capacityFloor, task?.healthCheck?.withinMs, task?.settleMs, task?.timeoutMs, task?.priority], [{ value: 10, percent: true }, { value: 2, percent: false }, { kind: 'percent', value: 75 }, 120_000, 5000, 3_600_000, 1]);
  });

  it('document tasks (seed 001): exactly one of command and document; parameters named, bounded and strings; output location', () => {
    const file = (tasks: unknown[], extra: Record<string, unknown> = {}): unknown => ({ ...extra, groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, description: 'Daily patch event with a healthcheck afterward', tasks }] } }] });
    const at = 'groups[0].maintenance.windows[0].tasks';
    const found = problems(file([
      { name: 'both', command: 'x', document: 'AWS-RunPatchBaseline' },
      { name: 'neither', maxErrors: 0 },
      { name: 'stray', command: 'x', parameters: { Operation: ['Scan'] } },
      { name: 'badname', document: 'no spaces allowed', parameters: { 'Bad Name': ['x'], Many: Array.from({ length: 101 }, () => 'v') } },
      { name: 'big', document: 'AWS-RunPatchBaseline', parameters: { Operation: ['x'.repeat(70_000)] } },
      { name: 'prefix', document: 'AWS-RunPatchBaseline', outputPrefix: 'ssm_output/', outputBucket: 'Not_A_Bucket' },
      { name: 'nobucket', document: 'AWS-RunPatchBaseline', outputPrefix: 'ssm_output/' },
    ]));
    assert.deepEqual(found, [
      `${at}[0].document: give command or document, not both`,
      `${at}[1].command: give command (a shell script) or document (an SSM document, e.g. AWS-RunPatchBaseline)`,
      `${at}[2].parameters: only applies with document`,
      `${at}[3].document: expected an SSM document name (3-128 letters, digits, _, - or .) or its ARN, got "no spaces allowed"`,
      `${at}[3].parameters["Bad Name"]: expected a parameter name of 1-64 letters, digits, _, - or .`,
      `${at}[3].parameters.Many: at most 100 values, got 101`,
      `${at}[4].parameters: at most 64 KiB in all, got 70018 bytes`,
      `${at}[5].outputBucket: expected an S3 bucket name (3-63 lower-case letters, digits, . or -), got "Not_A_Bucket"`,
      `${at}[6].outputPrefix: needs a bucket: give outputBucket here or aws.outputBucket`,
    ]);
    assert.deepEqual(problems(file([{ name: 'num', document: 'AWS-RunPatchBaseline', parameters: { RebootOption: [1] } }])), [`${at}[0].parameters.RebootOption: expected a string or a list of strings (quote numbers and booleans: "1")`], 'a value that is not a string is named');
    const ok = parseConfig(file([{ name: 'patch', document: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'], RebootOption: 'NoReboot' }, maxConcurrency: '100%', maxErrors: 0, outputPrefix: 'ssm_output/' }], { aws: { outputBucket: 'scripts-bucket' } }));
    const w = ok.groups[0]?.windows[0];
    const task = w?.tasks?.[0];
    assert.deepEqual([task?.command, task?.document, task?.output, task?.runAfterFailure], [null, { name: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'], RebootOption: ['NoReboot'] } }, { bucket: 'scripts-bucket', prefix: 'ssm_output/' }, false]);
    assert.deepEqual([w?.description, w?.onTaskFailure], ['Daily patch event with a healthcheck afterward', 'abort'], 'abort is the default (seed 001: MaxErrors 0 aborts the window)');
    const cont = parseConfig({ groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, onTaskFailure: 'continue', tasks: [{ name: 'a', command: 'x', runAfterFailure: true }] }] } }] });
    assert.deepEqual([cont.groups[0]?.windows[0]?.onTaskFailure, cont.groups[0]?.windows[0]?.tasks?.[0]?.runAfterFailure], ['continue', true]);
    assert.deepEqual(problems({ groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, onTaskFailure: 'stop', description: '' }] } }] }).map((m) => m.split(':')[0]).sort(), ['groups[0].maintenance.windows[0].description', 'groups[0].maintenance.windows[0].onTaskFailure']);
  });

  it('with eventDelivery agent: a document other than AWS-RunShellScript is refused, naming the field; its commands become the script', () => {
    const file = (task: Record<string, unknown>): unknown => ({ controller: { eventDelivery: 'agent' }, groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, tasks: [{ name: 't', ...task }] }] } }] });
    const at = 'groups[0].maintenance.windows[0].tasks[0]';
    assert.deepEqual(problems(file({ document: 'AWS-RunPatchBaseline', parameters: { Operation: ['Scan'] } })), [`${at}.document: AWS-RunPatchBaseline cannot run with controller.eventDelivery: agent (the agent runs shell scripts only); use command, AWS-RunShellScript with commands, or eventDelivery: run-command`]);
    assert.deepEqual(problems(file({ document: 'AWS-RunShellScript', parameters: { commands: ['x'], workingDirectory: ['/tmp'] } })), [`${at}.parameters: with controller.eventDelivery: agent, AWS-RunShellScript takes only commands (use timeout for the time limit)`]);
    assert.deepEqual(problems(file({ command: 'x', outputBucket: 'ops-logs' })), [`${at}.outputBucket: applies to SSM Run Command only; with controller.eventDelivery: agent the controller keeps the output (aws.outputBucket)`]);
    const task = parseConfig(file({ document: 'AWS-RunShellScript', parameters: { commands: ['yum -y update', 'needs-restarting -r || exit 194'] } })).groups[0]?.windows[0]?.tasks?.[0];
    assert.deepEqual([task?.command, task?.document], ['yum -y update\nneeds-restarting -r || exit 194', null]);
  });

  it('names the line of a YAML syntax error', () => {
    assert.throws(() => parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}\n', 'f.yaml'), (e: unknown) => e instanceof ValidationErrors && /^f\.yaml: line \d+: /.test(e.message));
  });

  it('exports a JSON Schema that describes groups, fleets and windows', () => {
    const schema = JSON.stringify(jsonSchema());
    for (const word of ['"groups"', '"fleets"', '"maintenance"', '"startAhead"', '"tierTag"', 'N, N% or Np']) assert.ok(schema.includes(word), word);
  });
});

describe('effective configuration: defaults < file < store < schedules < windows < overrides', () => {
  const config = parseConfig({
    groups: [
      {
        name: 'web',
        fleets: { main: { min: 1, desired: 2 } },
        schedules: [{ name: 'day', schedule: 'cron(0 8 * * ? *)', durationHours: 10, set: { 'fleets.main.desired': 3 } }],
        maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 12 * * ? *)', durationHours: 1, overrides: { 'fleets.main.desired': 5 } }] },
      },
    ],
  });
  const group = config.groups[0]!;
  const override = { group: 'web', key: 'fleets.main.desired', value: { kind: 'absolute' as const, value: 7 }, expiresAt: T('2026-06-01T12:30:00Z'), reason: 'load test' };

  function layersAt(iso: string, withOverride = true): string[] {
    const r = resolve({ group, now: T(iso), subfleets: [], storeValues: { 'fleets.main.desired': { kind: 'absolute', value: 4 } }, overrides: withOverride ? [override] : [] });
    return (r.layers.get('fleets.main.desired') ?? []).map((e) => `${e.layer}:${e.value === null ? 'unset' : typeof e.value === 'object' ? e.value.value : String(e.value)}${e.expiresAt === undefined ? '' : `@${new Date(e.expiresAt).toISOString().slice(11, 16)}`}`);
  }

  it('stacks every layer in order, with expiry where a layer expires', () => {
    assert.deepEqual(layersAt('2026-06-01T12:10:00Z'), ['default:unset', 'file:2', 'store:4', 'schedule:3@18:00', 'window:5@13:00', 'override:7@12:30']);
  });

  it('drops layers that are not active: outside the window, after the override expired, before the schedule', () => {
    assert.deepEqual(layersAt('2026-06-01T12:40:00Z'), ['default:unset', 'file:2', 'store:4', 'schedule:3@18:00', 'window:5@13:00']);
    assert.deepEqual(layersAt('2026-06-01T07:00:00Z', false), ['default:unset', 'file:2', 'store:4']);
  });

  it('a window with disableDefaultConfiguration keeps its own overrides but not the 100% defaults', () => {
    const c = parseConfig({ groups: [{ name: 'web', maintenance: { windows: [{ name: 'FW-web', schedule: 'cron(0 12 * * ? *)', durationHours: 1, disableDefaultConfiguration: true, overrides: { 'caps.startsPerTick': 3 } }] } }] });
    const r = resolve({ group: c.groups[0]!, now: T('2026-06-01T12:10:00Z'), subfleets: [] });
    assert.equal(r.settings.startsPerTick, 3);
    assert.equal(r.settings.mainDesired, null);
  });
});

describe('fleetwarden config (real process)', () => {
  it('validate: exit 0 and a summary for a valid file', () => {
    const r = cli('config', 'validate', EXAMPLE);
    assert.equal(r.code, 0);
    assert.match(r.out, /valid; groups: web \(2 window\(s\), 1 schedule\(s\)\), erp/);
  });

  it('validate: exit 2, every problem on stderr, nothing on stdout', () => {
    const file = tempFile('groups:\n  - name: web\n    fleets:\n      main: { min: abc }\n    caps: { startsPerTick: 0 }\n');
    const r = cli('config', 'validate', file);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, /error: groups\[0\]\.fleets\.main\.min: expected N, N% or Np, got "abc"/);
    assert.match(r.err, /error: groups\[0\]\.caps\.startsPerTick: expected a whole number from 1 to 10000, got 0/);
    assert.match(r.err, /2 problem\(s\); nothing was applied/);
  });

  it('validate: a missing file is a clear error', () => {
    const r = cli('config', 'validate', '/nonexistent/fleetwarden.yaml');
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot read the configuration file: ENOENT/);
  });

  it('explain KEY --json: every layer and the winner, with the window that set it and its expiry', () => {
    const r = cli('config', 'explain', 'fleets.main.min', '--config', EXAMPLE, '--group', 'web', '--at', '2026-06-02T01:50:00Z', '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { settings: { key: string; value: string; layer: string; source: string; expiresAt: string | null }[]; activeWindows: { name: string }[] };
    assert.deepEqual(doc.settings[0], {
      key: 'fleets.main.min',
      value: '100%',
      layer: 'window',
      source: 'window FW-web-nightly',
      expiresAt: '2026-06-02T03:00:00Z',
      layers: [
        { layer: 'default', source: 'built-in default', value: '0', expiresAt: null },
        { layer: 'file', source: 'configuration file', value: '2', expiresAt: null },
        { layer: 'window', source: 'window FW-web-nightly', value: '100%', expiresAt: '2026-06-02T03:00:00Z' },
      ],
    });
    assert.deepEqual(doc.activeWindows.map((w) => w.name), ['FW-web-nightly']);
  });

  it('explain: an unknown key or group is a clear error', () => {
    assert.match(cli('config', 'explain', 'fleets.nope', '--config', EXAMPLE, '--group', 'web').err, /unknown setting|no such setting/);
    assert.match(cli('config', 'explain', '--config', EXAMPLE).err, /--group: the configuration has 3 groups \(web, erp, reports\); name one/);
  });

  it('schema prints JSON Schema', () => {
    const r = cli('config', 'schema');
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.out) as { title: string }).title, 'fleetwarden.yaml');
  });
});
