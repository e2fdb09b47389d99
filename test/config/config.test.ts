import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ConfigProblem, loadConfigFile, parseConfig, parseConfigText } from '../../src/config/load.js';
import { resolve } from '../../src/config/resolve.js';
import { ssmWindowsForGroup } from '../../src/config/ssm-windows.js';
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
      'groups[0].maintenance.windows[1].overrides["fleets.bogus"]: unknown setting "fleets.bogus"; fleets settings are fleets.main.min, fleets.main.desired, fleets.subfleets.<name>.state, fleets.subfleets.<name>.min, fleets.subfleets.<name>.desired (run \'fleetwarden config explain\' for the list)',
    ]);
  });

  it('the drain handshake timing rule: agent.confirmTimeout at least 3 × agent.pollPeriod, refused naming the field; agent settings reach the group', () => {
    assert.deepEqual(problems({ groups: [{ name: 'web', agent: { confirm: true, confirmTimeout: '20s', pollPeriod: '10s' } }] }), [
      "groups[0].agent.confirmTimeout: 20s is less than 3 × agent.pollPeriod (10s): an agent that misses one poll would fail its instance; raise agent.confirmTimeout to at least 30s, or lower the agents' --api-polling-period and agent.pollPeriod",
    ]);
    // The default 1m against the default 10 s poll is fine; and without confirmation the rule does not apply.
    assert.deepEqual(problems({ groups: [{ name: 'web', agent: { confirm: true } }] }), []);
    assert.deepEqual(problems({ groups: [{ name: 'web', agent: { confirm: false, confirmTimeout: '5s' } }] }), []);
    assert.deepEqual(problems({ groups: [{ name: 'web', lifecycle: { drainMinimum: '5s' }, agent: { confirm: true, lbDetection: '10s' } }] }), [
      'groups[0].lifecycle.drainMinimum: 5s is less than agent.lbDetection (10s): a draining instance would be stopped before the load balancer stopped routing to it; make lifecycle.drainMinimum at least agent.lbDetection plus your longest request',
    ]);
    assert.deepEqual(problems({ groups: [{ name: 'web', agent: { confirm: true, lbDetection: 'soon' } }] }), ['groups[0].agent.lbDetection: expected a duration such as 30s, 15m, 1h or 2h30m, got "soon"']);
    const config = parseConfigText('groups:\n  - name: web\n    agent: { confirm: true, confirmTimeout: 45s, lbDetection: 2s }\n');
    assert.deepEqual(resolve({ group: config.groups[0]!, now: 0, subfleets: [] }).settings.handshake, { confirm: true, confirmTimeoutMs: 45_000, lbDetectionMs: 2000, pollPeriodMs: 10_000 });
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
    assert.deepEqual([task?.maxConcurrency, task?.maxErrors, task?.capacityFloor, task?.healthCheck?.withinMs, task?.settleMs, task?.timeoutMs, task?.priority], [{ kind: 'percent', value: 10 }, { kind: 'absolute', value: 2 }, { kind: 'percent', value: 75 }, 120_000, 5000, 3_600_000, 1]);
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

  it('names the line and column of a YAML syntax error', () => {
    assert.throws(() => parseConfigText('groups:\n  - name: web\n    fleets: {main: {min: 1}\n', 'f.yaml'), (e: unknown) => e instanceof ValidationErrors && /^f\.yaml:4:1: Flow map/.test(e.message));
  });

  /** Every problem of `text` as `[field, line, column, message]` (the position the error carries, and the one it prints). */
  function located(text: string, source = 'f.yaml'): [string, number | undefined, number | undefined, string][] {
    try {
      parseConfigText(text, source);
    } catch (err) {
      if (err instanceof ValidationErrors) return err.issues.map((i) => [i.field, i instanceof ConfigProblem ? i.line : undefined, i instanceof ConfigProblem ? i.column : undefined, i.message]);
      throw err;
    }
    return [];
  }

  it('schema and value problems name the line and column of the value, keeping the field', () => {
    // Two schema issues of one file (a name that is not a string, a count below 0), each at its own place.
    assert.deepEqual(located('groups:\n  - name: [web]\n    fleets:\n      main: { min: -3 }\n'), [
      ['groups[0].name', 2, 11, 'f.yaml:2:11: groups[0].name: Invalid input: expected string, received array'],
      ['groups[0].fleets.main.min', 4, 20, 'f.yaml:4:20: groups[0].fleets.main.min: expected N (0 to 999999), N% or Np, got -3'],
    ]);
    // A value the loader checks after the schema (a duration past its bound).
    assert.deepEqual(located('controller:\n  tickInterval: 2h\ngroups: [{ name: web }]\n'), [['controller.tickInterval', 2, 17, 'f.yaml:2:17: controller.tickInterval: must be at most 1h, got "2h"']]);
    // An unknown key: the key itself, not its value or its section.
    assert.deepEqual(located('groups:\n  - name: web\n    fleets:\n      main: { min: 1 }\n    bogus: 1\n').map((p) => p.slice(0, 3)), [['groups[0]', 5, 5]]);
    // A key without a value: the key (its empty value has no place of its own).
    assert.deepEqual(located('groups:\n  - name: web\n    caps:\n      startsPerTick:\n').map((p) => p.slice(0, 3)), [['groups[0].caps.startsPerTick', 4, 7]]);
  });

  it('paths with indices and quoted keys are found: window tasks and window overrides', () => {
    const text = [
      'groups:',
      '  - name: web',
      '    maintenance:',
      '      windows:',
      '        - name: FW-web-other',
      '          schedule: "cron(0 3 * * ? *)"',
      '          durationHours: 1',
      '        - name: FW-web',
      '          schedule: "cron(0 2 * * ? *)"',
      '          durationHours: 2',
      '          overrides:',
      '            "fleets.main.min": lots',
      '          tasks:',
      '            - { name: a, command: x }',
      '            - name: b',
      '              command: y',
      '              maxConcurrency: -1',
      '',
    ].join('\n');
    assert.deepEqual(located(text).map((p) => p.slice(0, 3)), [
      ['groups[0].maintenance.windows[1].overrides["fleets.main.min"]', 12, 32],
      ['groups[0].maintenance.windows[1].tasks[1].maxConcurrency', 17, 31],
    ]);
  });

  it('a cross-field problem names the setting checked: its value, or the section holding the other setting', () => {
    const group = 'groups:\n  - name: web\n    fleets: { main: { min: 1 } }\n    agent:\n      confirm: true\n';
    // agent.confirmTimeout (2m) shorter than 3 × agent.pollPeriod (1m): checked in checkHandshakeTiming.
    assert.deepEqual(located(`${group}      pollPeriod: 1m\n      confirmTimeout: 2m\n`).map((p) => p.slice(0, 3)), [['groups[0].agent.confirmTimeout', 7, 23]]);
    // confirmTimeout left at its default: the agent section, where it belongs (line 5 is its first key).
    assert.deepEqual(located(`${group}      pollPeriod: 10m\n`).map((p) => p.slice(0, 3)), [['groups[0].agent.confirmTimeout', 5, 7]]);
  });

  it('a key left out points at the section that needs it', () => {
    assert.deepEqual(located('groups:\n  - fleets: { main: { min: 1 } }\n'), [['groups[0].name', 2, 5, 'f.yaml:2:5: groups[0].name: Invalid input: expected string, received undefined']]);
    assert.deepEqual(located('store: { kind: dynamodb }\ngroups: [{ name: web }]\n').map((p) => p.slice(0, 3)), [['store.table', 1, 8]]);
  });

  it('a JSON configuration file has positions too (JSON is YAML)', () => {
    const json = JSON.stringify({ groups: [{ name: 'web', fleets: { main: { min: 'abc' } } }] }, null, 2);
    assert.deepEqual(located(json, 'f.json'), [['groups[0].fleets.main.min', 7, 18, 'f.json:7:18: groups[0].fleets.main.min: expected N, N% or Np, got "abc"']]);
    assert.equal(json.split('\n')[6], '          "min": "abc"', 'line 7, column 18 is the value');
  });

  it('a problem with no place in the file (an empty file) names the file alone; parseConfig alone names no file', () => {
    assert.deepEqual(located(''), [['', undefined, undefined, 'f.yaml: Invalid input: expected object, received null']]);
    assert.deepEqual(problems({ groups: [{ name: 'web', fleets: { main: { min: -3 } } }] }), ['groups[0].fleets.main.min: expected N (0 to 999999), N% or Np, got -3']);
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
    assert.match(r.out, /valid; \d+ group\(s\): web \(2 window\(s\), 1 schedule\(s\)\), erp/);
  });

  it('validate: a file of many groups names the first 20 and counts the rest, on one short line', () => {
    const groups = Array.from({ length: 500 }, (_, i) => `  - name: g${i}\n    fleets: { main: { min: 1 } }\n`).join('');
    const r = cli('config', 'validate', tempFile(`groups:\n${groups}`));
    assert.equal(r.code, 0);
    assert.match(r.out, /valid; 500 group\(s\): g0 \(0 window\(s\), 0 schedule\(s\)\), .*g19 \(0 window\(s\), 0 schedule\(s\)\), and 480 more\n?$/);
    assert.doesNotMatch(r.out, /g20 /);
  });

  it('validate: exit 2, every problem on stderr, nothing on stdout', () => {
    const file = tempFile('groups:\n  - name: web\n    fleets:\n      main: { min: abc }\n    caps: { startsPerTick: 0 }\n');
    const r = cli('config', 'validate', file);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(r.err, /^error: \S+\/fleetwarden\.yaml:4:20: groups\[0\]\.fleets\.main\.min: expected N, N% or Np, got "abc"$/m);
    assert.match(r.err, /^error: \S+\/fleetwarden\.yaml:5:28: groups\[0\]\.caps\.startsPerTick: expected a whole number from 1 to 10000, got 0$/m);
    assert.match(r.err, /2 problem\(s\); nothing was applied/);
    const json = cli('config', 'validate', file, '--json');
    assert.equal(json.code, 2);
    assert.deepEqual((JSON.parse(json.out) as { errors: unknown }).errors, [
      { path: 'groups[0].fleets.main.min', reason: 'expected N, N% or Np, got "abc"', line: 4, column: 20 },
      { path: 'groups[0].caps.startsPerTick', reason: 'expected a whole number from 1 to 10000, got 0', line: 5, column: 28 },
    ]);
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
    assert.match(cli('config', 'explain', 'fleets.nope', '--config', EXAMPLE, '--group', 'web').err, /^error: key: unknown setting "fleets\.nope"/m);
    assert.match(cli('config', 'explain', '--config', EXAMPLE).err, /--group: the configuration has 3 groups \(web, erp, reports\); name one/);
  });

  it('schema prints JSON Schema', () => {
    const r = cli('config', 'schema');
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.out) as { title: string }).title, 'fleetwarden.yaml');
  });
});

describe('hostile configuration: every number and duration bounded, YAML abuse refused', () => {
  const window = { name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2 };
  const nines = `${'9'.repeat(30)}h`;
  // [fragment of the document, the one problem expected]: each value validated before, and overflowed an instant.
  const cases: [Record<string, unknown>, string][] = [
    [{ controller: { leaseTtl: 1e308 } }, 'controller.leaseTtl: must be at most 1d, got 1e+308'],
    [{ controller: { tickInterval: '2h', leaseTtl: '5h' } }, 'controller.tickInterval: must be at most 1h, got "2h"'],
    [{ controller: { historyRetention: '4000d' } }, 'controller.historyRetention: must be at most 3650d, got "4000d"'],
    [{ controller: { outputRetention: 1e300 } }, 'controller.outputRetention: must be at most 3650d, got 1e+300'],
    [{ groups: [{ name: 'web', maintenance: { startAhead: nines } }] }, `groups[0].maintenance.startAhead: must be at most 1d, got "${'9'.repeat(30)}h"`],
    [{ groups: [{ name: 'web', lifecycle: { warmUp: '8d' } }] }, 'groups[0].lifecycle.warmUp: must be at most 7d, got "8d"'],
    [{ groups: [{ name: 'web', events: { scriptTimeout: '25h' } }] }, 'groups[0].events.scriptTimeout: must be at most 1d, got "25h"'],
    [{ groups: [{ name: 'web', events: { 'instance-ready-for-operation': { timeLimit: 1e300 } } }] }, 'groups[0].events.instance-ready-for-operation.timeLimit: must be at most 7d, got 1e+300'],
    [{ groups: [{ name: 'web', fleets: { main: { min: 1e21 } } }] }, 'groups[0].fleets.main.min: expected N (0 to 999999), N% or Np, got 1e+21'],
    [{ groups: [{ name: 'web', fleets: { main: { desired: '1000000' } } }] }, 'groups[0].fleets.main.desired: a count must be from 0 to 999999, got "1000000"'],
    [{ groups: [{ name: 'web', maintenance: { windows: [{ ...window, overrides: { 'lifecycle.drainMinimum': '30d' } }] } }] }, 'groups[0].maintenance.windows[0].overrides["lifecycle.drainMinimum"]: must be at most 7d, got "30d"'],
    [{ groups: [{ name: 'web', maintenance: { windows: [{ ...window, durationHours: 1e300 }] } }] }, 'groups[0].maintenance.windows[0].durationHours: expected a whole number from 1 to 24, got 1e+300'],
    [{ groups: [{ name: 'web', maintenance: { windows: [{ ...window, tasks: [{ name: 't', command: 'x', timeout: '3d' }] }] } }] }, 'groups[0].maintenance.windows[0].tasks[0].timeout: must be at most 2d, got "3d"'],
    [{ groups: [{ name: 'web', maintenance: { windows: [{ ...window, tasks: [{ name: 't', command: 'x', priority: 1e15 }] }] } }] }, 'groups[0].maintenance.windows[0].tasks[0].priority: expected a whole number from 0 to 1000, got 1000000000000000'],
    [{ groups: [{ name: 'web', maintenance: { windows: [{ ...window, tasks: [{ name: 't', command: 'x', drain: true, healthCheck: { command: 'true', timeout: '2h' } }] }] } }] }, 'groups[0].maintenance.windows[0].tasks[0].healthCheck.timeout: must be at most 1h, got "2h"'],
    [{ groups: [{ name: 'erp', workload: { tierTag: 'Role', tiers: [{ name: 'DB', start: { sequence: 0, readinessTimeout: '2d' }, stop: { sequence: 0 } }] } }] }, 'groups[0].workload.tiers[0].start.readinessTimeout: must be at most 1d, got "2d"'],
    [{ groups: [{ name: 'web' }], simulator: { groups: { web: { instances: 1e9 } } } }, 'simulator.groups.web.instances: expected a whole number from 0 to 100000'],
    [{ groups: [{ name: 'web' }], simulator: { speed: 1e300, groups: {} } }, 'simulator.speed: at most 100000 (a simulated day in under a real second)'],
    [{ groups: [{ name: 'web' }], simulator: { groups: { web: { instances: 1, rebootTime: '2d' } } } }, 'simulator.groups.web.rebootTime: must be at most 1d, got "2d"'],
  ];

  it('a value past its bound is refused with its path and the bound; nothing else is reported', () => {
    for (const [fragment, expected] of cases) {
      assert.deepEqual(problems({ groups: [{ name: 'web' }], ...fragment }), [expected], JSON.stringify(fragment).slice(0, 120));
    }
    // The bound is inclusive, and the usual values are untouched.
    assert.deepEqual(problems({ controller: { tickInterval: '1h', leaseTtl: '1d' }, groups: [{ name: 'web', maintenance: { startAhead: '1d' }, lifecycle: { shutdownTimeout: '7d' } }] }), []);
  });

  it('window tags are bounded by the same parsers: a tag past its bound is reported and ignored', () => {
    const config = parseConfig({ ssm: { discovery: true }, groups: [{ name: 'web' }] });
    const found = ssmWindowsForGroup([{ id: 'mw-1', name: 'FW-web', schedule: 'cron(0 2 * * ? *)', durationHours: 2, cutoffHours: 0, enabled: true, tags: { 'fleetwarden:group-name': 'web', 'fleetwarden:config:maintenance.startAhead': nines, 'fleetwarden:config:fleets.main.min': '2' } }], 'web', config.naming, T('2026-06-01T00:00:00Z'));
    assert.deepEqual(found.windows[0]?.overrides, { 'fleets.main.min': { kind: 'absolute', value: 2 } }, 'the bad tag is left out, the good one kept');
    assert.deepEqual(found.warnings, [`window FW-web: tag ignored: fleetwarden:config:maintenance.startAhead: must be at most 1d, got "${'9'.repeat(30)}h"`]);
  });

  it('YAML alias abuse is a validation error naming the file (and the line of an unresolved alias)', () => {
    assert.throws(() => parseConfigText('a: &x [1]\nb: *nope\ngroups: [{name: web}]\n', 'f.yaml'), (e: unknown) => e instanceof ValidationErrors && e.message === 'f.yaml:2:4: Unresolved alias (the anchor must be set before the alias): nope');
    let bomb = 'l0: &l0 [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 10; i++) bomb += `l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]\n`;
    assert.throws(() => parseConfigText(`${bomb}groups: [{name: web}]\n`, 'f.yaml'), (e: unknown) => e instanceof ValidationErrors && /^f\.yaml: too many alias \(\*name\) expansions/.test(e.message));
  });
});

describe('hostile configuration through the CLI (real process): exit 2, the file named, nothing written', () => {
  function noStack(r: { err: string }): void {
    assert.doesNotMatch(r.err, /internal error|\n\s+at /, 'no stack trace');
  }

  it('run refuses an overflowing lease TTL before opening any store', () => {
    const file = tempFile('controller:\n  leaseTtl: 1e308\nsimulator:\n  groups: { web: { instances: 1 } }\ngroups:\n  - name: web\n');
    const stateDir = mkdtempSync(join(tmpdir(), 'fw-state-'));
    const r = cli('run', '--config', file, '--state-dir', stateDir, '--once', '--listen', 'none');
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: \S+\/fleetwarden\.yaml:2:13: controller\.leaseTtl: must be at most 1d, got 1e\+308$/m);
    noStack(r);
    assert.deepEqual(readdirSync(stateDir), [], 'nothing written');
  });

  it('windows refuses a start-ahead of a huge number of hours instead of crashing', () => {
    const file = tempFile(`groups:\n  - name: web\n    maintenance:\n      startAhead: ${'9'.repeat(30)}h\n      windows:\n        - { name: FW-web, schedule: "cron(0 2 * * ? *)", durationHours: 1 }\n`);
    const r = cli('windows', '--config', file, '--from', '2026-06-01T00:00:00Z');
    assert.equal(r.code, 2);
    assert.match(r.err, /groups\[0\]\.maintenance\.startAhead: must be at most 1d/);
    noStack(r);
  });

  it('YAML alias errors and syntax errors: exit 2, file and line:column named, no stack', () => {
    const alias = tempFile('a: &x [1]\nb: *nope\ngroups: [{name: web}]\n');
    const r1 = cli('config', 'validate', alias);
    assert.equal(r1.code, 2);
    assert.match(r1.err, new RegExp(`^error: ${alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:4: Unresolved alias`, 'm'));
    noStack(r1);
    const bomb = tempFile(`${['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `b${i}: &b${i} [${Array(9).fill(i === 0 ? '*a' : `*b${i - 1}`).join(', ')}]`)].join('\n')}\ngroups: [{name: web}]\n`);
    const r2 = cli('config', 'validate', bomb);
    assert.equal(r2.code, 2);
    assert.match(r2.err, /fleetwarden\.yaml: too many alias/);
    noStack(r2);
    const deep = tempFile(`${'['.repeat(5000)}\n`);
    const r3 = cli('config', 'validate', deep);
    assert.equal(r3.code, 2);
    assert.ok(r3.err.split('\n').length < 30, 'a cascade of YAML errors is cut short');
    noStack(r3);
  });

  it('a file over 1 MiB is refused before it is parsed, naming the file and the limit', () => {
    const file = tempFile(`groups: [{name: web}]\n${'#'.repeat(1024 * 1024)}\n`);
    const r = cli('config', 'validate', file);
    assert.equal(r.code, 2);
    assert.match(r.err, /fleetwarden\.yaml: the configuration file is larger than 1 MiB; nothing was read/);
    noStack(r);
  });

  it('explain of an unknown key: exit 2, the key named, the keys of its section listed', () => {
    const r = cli('config', 'explain', 'no.such', '--config', EXAMPLE, '--group', 'web');
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: key: unknown setting "no\.such"; settings start with fleets\., caps\., lifecycle\., events\., maintenance\., workload\./m);
    noStack(r);
    const typo = cli('config', 'explain', 'fleets.mian.min', '--config', EXAMPLE, '--group', 'web');
    assert.equal(typo.code, 2);
    assert.match(typo.err, /unknown setting "fleets\.mian\.min"; fleets settings are fleets\.main\.min, fleets\.main\.desired/);
  });
});
