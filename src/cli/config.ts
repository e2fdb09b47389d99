import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { explainView, findGroup } from '../api/services.js';
import * as wire from '../api/wire.js';
import type { FleetConfig } from '../config/config.js';
import { importEc2Scheduler } from '../config/import-ec2-scheduler.js';
import { ConfigProblem, loadConfigFile, MAX_CONFIG_BYTES } from '../config/load.js';

/** How many groups `config validate` names before it only counts the rest. */
const SUMMARY_GROUPS = 20;
import { jsonSchema } from '../config/schema.js';
import { ValidationError, ValidationErrors } from '../domain/errors.js';
import { formatInstant, parseInstant } from '../domain/time.js';
import { type CliIo, type Command, escapeControl, EXIT, parse, table, UsageError } from './io.js';
import { apiClient, DEFAULT_CONFIG, DEFAULT_STATE_DIR, localContext, TARGET_HELP, TARGET_OPTIONS, withStore } from './remote.js';
import { storeExists } from '../app/compose.js';


const validate: Command = {
  name: 'validate',
  summary: 'check a configuration file; every problem is listed with its path',
  help: `Usage: fleetwarden config validate [FILE] [--json]

Validates FILE (default ${DEFAULT_CONFIG}): its shape, every count, duration and schedule expression, window
overrides and tiers. Every problem is printed as FILE:LINE:COLUMN: PATH: REASON (all of them, not just the
first; --json gives path, reason, line and column); the exit code is 0 when the file is valid and 2 when it is not.`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } });
    const file = positionals[0] ?? DEFAULT_CONFIG;
    try {
      const config = loadConfigFile(file);
      // A big file's summary names its first groups and counts the rest, rather than one line of thousands.
      const shown = config.groups.slice(0, SUMMARY_GROUPS).map((g) => `${g.name} (${g.windows.length} window(s), ${g.schedules.length} schedule(s)${g.workload ? `, ${g.workload.tiers.length} tier(s)` : ''})`);
      const more = config.groups.length - shown.length;
      io.out(values.json === true ? JSON.stringify({ valid: true, file, groups: config.groups.map((g) => g.name) }) : `${file}: valid; ${config.groups.length} group(s): ${shown.join(', ')}${more > 0 ? `, and ${more} more` : ''}`);
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof ValidationErrors)) throw err;
      if (values.json === true) io.out(JSON.stringify({ valid: false, file, errors: err.issues.map((i) => ({ path: i.field, reason: i.reason, ...(i instanceof ConfigProblem && i.line !== undefined ? { line: i.line, column: i.column } : {}) })) }));
      for (const issue of err.issues) io.err(`error: ${escapeControl(issue.message)}`);
      io.err(`${file}: ${err.issues.length} problem(s); nothing was applied`);
      return EXIT.usage;
    }
  },
};

const schema: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of the configuration file (for editor completion)',
  help: `Usage: fleetwarden config schema

Prints the JSON Schema of ${DEFAULT_CONFIG}. Point your editor's YAML support at it, e.g. with a first line
  # yaml-language-server: $schema=./fleetwarden.schema.json`,
  run(args: string[], io: CliIo): number {
    parse(args, {}, false);
    io.out(JSON.stringify(jsonSchema(), null, 2));
    return EXIT.ok;
  },
};

/** The group to explain: the one named, or the only one. */
function groupName(config: FleetConfig, name: string | undefined): string {
  if (name !== undefined) return findGroup(config, name, '--group').name;
  const [only, ...more] = config.groups;
  if (only === undefined) throw new UsageError('--group', 'the configuration has no group');
  if (more.length > 0) throw new UsageError('--group', `the configuration has ${config.groups.length} groups (${config.groups.map((g) => g.name).join(', ')}); name one`);
  return only.name;
}

const explain: Command = {
  name: 'explain',
  summary: 'show each effective setting with the layer that set it and when it expires',
  help: `Usage: fleetwarden config explain [KEY] [--group NAME] [--at ISO] [--json] [--url URL] [--config FILE] [--state-dir DIR]

Shows the effective configuration of a group: each value with the layer that set it (default < file <
store < schedule < window < override) and the instant it expires where it does. With KEY, every layer's
value for that key, lowest first; the last one wins.

  --group NAME      the group (needed when the file has several)
  --at ISO          evaluate schedules, windows and overrides at this instant instead of now (with the
                    simulator, now is the simulated world's instant, as the controller sees it)
${TARGET_HELP}

With --url, the running controller answers (stored values and run-time overrides included). Without it, the
store is read when it exists (overrides included); with no store yet, the file alone is evaluated. SSM windows
are discovered as the controller discovers them (ssm.discovery: SSM itself with provider aws).`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parse(args, { ...TARGET_OPTIONS, group: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } });
    const key = positionals[0];
    const given = values.at === undefined ? undefined : parseInstant(values.at, '--at');
    const api = apiClient(values);
    let view: wire.ExplainJson;
    if (api !== null) {
      // Through the API with --group, the controller's configuration is the one that counts: no local file needed.
      const group = values.group ?? groupName(loadConfigFile(values.config ?? DEFAULT_CONFIG), undefined);
      // Without --at, the controller's own now (the simulated instant on the simulator).
      const q = new URLSearchParams({ ...(given === undefined ? {} : { at: formatInstant(given) }), ...(key === undefined ? {} : { key }) });
      view = await api.call('GET', `/v1/groups/${encodeURIComponent(group)}/config?${q.toString()}`, wire.explainJson);
    } else {
      const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
      const group = groupName(config, values.group);
      const local = localContext(config, values);
      const at = given ?? local.now;
      const ssm = await local.ssmWindows();
      view = await (storeExists(config, values['state-dir'] ?? DEFAULT_STATE_DIR) ? withStore(values, (store) => explainView(store, config, group, at, key, ssm)) : explainView(null, config, group, at, key, ssm));
    }
    if (values.json === true) {
      io.out(JSON.stringify(view));
      return EXIT.ok;
    }
    const header = escapeControl(`group ${view.group} at ${view.at}; active windows: ${view.activeWindows.map((a) => `${a.name} until ${a.end}`).join(', ') || 'none'}`);
    if (key !== undefined) {
      const entries = view.settings[0]?.layers ?? [];
      const lines = entries.map((e, i) => [i === entries.length - 1 ? '*' : '', e.layer, e.value, e.source, e.expiresAt ?? '']);
      io.out(`${header}\n${key}:\n${table(['', 'layer', 'value', 'set by', 'expires'], lines)}`);
    } else {
      io.out(`${header}\n${table(['key', 'value', 'layer', 'set by', 'expires'], view.settings.map((r) => [r.key, r.value, r.layer, r.source, r.expiresAt ?? '']))}`);
    }
    for (const w of view.warnings) io.err(`warning: ${escapeControl(w)}`);
    return EXIT.ok;
  },
};

const importEc2: Command = {
  name: 'import-ec2-scheduler',
  summary: 'convert AWS_EC2_Scheduler WorkloadSpecification/TierSpecification items (seed 003) into a configuration',
  help: `Usage: fleetwarden config import-ec2-scheduler FILE... [--out FILE]

Reads the JSON items of the AWS_EC2_Scheduler tables — WorkloadSpecification and TierSpecification — from each FILE:
one item, an array of items, or the output of 'aws dynamodb scan' ({"Items": [...]}, typed values). Numbers and
booleans may be strings as the seed writes them ("2", "True"/"False"). Prints the Fleetwarden configuration (YAML)
on stdout, or writes it to --out FILE. Every unknown or invalid field is reported by name (exit 2) and nothing is
written.

Mapping: SpecName → group name; EnvFilterTagName/EnvFilterTagValue → workload.envFilterTag; TierFilterTagName →
workload.tierTag; Region → workload.region; SSMS3BucketName/SSMS3KeyPrefixName → workload.ssmOutputBucket/
ssmOutputPrefix; DisableAllSchedulingActions → workload.killSwitch; each TierSpecification → a tier (TierTagValue →
name, TierStart/TierStop.TierSequence → start/stop.sequence, TierSynchronization → synchronous,
TierStopOverrideFilename/OperatingSystem → bypassFile). workload.state is left undefined (hands off).`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { out: { type: 'string' } });
    if (positionals.length === 0) throw new UsageError('FILE', 'give at least one JSON file of WorkloadSpecification / TierSpecification items');
    const sources = positionals.map((file) => {
      let bytes: Buffer;
      try {
        const st = statSync(file);
        if (st.isFile() && st.size > MAX_CONFIG_BYTES) throw new ValidationError(file, `is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB; nothing was read`);
        bytes = readFileSync(file);
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        throw new ValidationError(file, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      return { name: file, text: bytes.toString('utf8') };
    });
    const { yaml, workloads } = importEc2Scheduler(sources);
    if (values.out === undefined) {
      io.out(yaml);
      return EXIT.ok;
    }
    // Written whole or not at all: a temporary file renamed over the target.
    const tmp = `${values.out}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, yaml, { flag: 'wx' });
      renameSync(tmp, values.out);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new ValidationError('--out', `cannot write ${values.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    io.err(`${values.out}: ${workloads.length} workload(s) written (${workloads.join(', ')})`);
    return EXIT.ok;
  },
};

export const configCommands: readonly Command[] = [validate, schema, explain, importEc2];
