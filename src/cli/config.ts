import type { FleetConfig, GroupConfig } from '../config/config.js';
import { formatKeyValue, KEY_DEFS } from '../config/keys.js';
import { loadConfigFile } from '../config/load.js';
import { type LayerEntry, resolve } from '../config/resolve.js';
import { jsonSchema } from '../config/schema.js';
import { ValidationErrors } from '../domain/errors.js';
import { formatInstant, parseInstant, systemClock } from '../domain/time.js';
import { type CliIo, type Command, EXIT, parse, table, UsageError } from './io.js';

const DEFAULT_CONFIG = 'fleetwarden.yaml';

const validate: Command = {
  name: 'validate',
  summary: 'check a configuration file; every problem is listed with its path',
  help: `Usage: fleetwarden config validate [FILE] [--json]

Validates FILE (default ${DEFAULT_CONFIG}): its shape, every count, duration and schedule expression, window
overrides and tiers. Every problem is printed with its path and reason (all of them, not just the first); the
exit code is 0 when the file is valid and 2 when it is not.`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } });
    const file = positionals[0] ?? DEFAULT_CONFIG;
    try {
      const config = loadConfigFile(file);
      const summary = config.groups.map((g) => `${g.name} (${g.windows.length} window(s), ${g.schedules.length} schedule(s)${g.workload ? `, ${g.workload.tiers.length} tier(s)` : ''})`);
      io.out(values.json === true ? JSON.stringify({ valid: true, file, groups: config.groups.map((g) => g.name) }) : `${file}: valid; groups: ${summary.join(', ')}`);
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof ValidationErrors)) throw err;
      if (values.json === true) io.out(JSON.stringify({ valid: false, file, errors: err.issues.map((i) => ({ path: i.field, reason: i.reason })) }));
      for (const issue of err.issues) io.err(`error: ${issue.message}`);
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

function pickGroup(config: FleetConfig, name: string | undefined): GroupConfig {
  if (name === undefined) {
    const [only, ...more] = config.groups;
    if (only === undefined) throw new UsageError('--group', 'the configuration has no group');
    if (more.length > 0) throw new UsageError('--group', `the configuration has ${config.groups.length} groups (${config.groups.map((g) => g.name).join(', ')}); name one`);
    return only;
  }
  const found = config.groups.find((g) => g.name === name);
  if (!found) throw new UsageError('--group', `no group "${name}"; groups: ${config.groups.map((g) => g.name).join(', ')}`);
  return found;
}

/** Concrete keys to list: every fixed key, and the per-subfleet ones for declared subfleets. */
function listedKeys(group: GroupConfig, layers: ReadonlyMap<string, readonly LayerEntry[]>): string[] {
  const subfleets = new Set<string>();
  for (const key of [...Object.keys(group.fileValues), ...layers.keys()]) {
    const m = /^fleets\.subfleets\.([^.]+)\./.exec(key);
    if (m?.[1] !== undefined) subfleets.add(m[1]);
  }
  const keys: string[] = [];
  for (const def of KEY_DEFS) {
    if (def.pattern.includes('<name>')) {
      const names = def.pattern.startsWith('events.') ? ['enter-maintenance-window-period', 'exit-maintenance-window-period', 'instance-ready-for-operation', 'instance-ready-for-shutdown', 'instance-state-change'] : [...subfleets];
      for (const n of names) keys.push(def.pattern.replace('<name>', n));
    } else keys.push(def.pattern);
  }
  return keys;
}

const explain: Command = {
  name: 'explain',
  summary: 'show each effective setting with the layer that set it and when it expires',
  help: `Usage: fleetwarden config explain [KEY] [--config FILE] [--group NAME] [--at ISO] [--json]

Shows the effective configuration of a group: each value with the layer that set it (default < file <
store < schedule < window < override) and the instant it expires where it does. With KEY, every layer's
value for that key, lowest first; the last one wins.

  --config FILE   configuration file (default ${DEFAULT_CONFIG})
  --group NAME    the group (needed when the file has several)
  --at ISO        evaluate schedules and windows at this instant instead of now

Windows and schedules declared in the file are evaluated; stored values, SSM windows and run-time overrides
appear once the controller runs (see 'fleetwarden run').`,
  run(args: string[], io: CliIo): number {
    const { values, positionals } = parse(args, { config: { type: 'string' }, group: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } });
    const config = loadConfigFile(values.config ?? DEFAULT_CONFIG);
    const group = pickGroup(config, values.group);
    const now = values.at === undefined ? systemClock.now() : parseInstant(values.at, '--at');
    const subfleets = Object.keys(group.fileValues).flatMap((k) => /^fleets\.subfleets\.([^.]+)\./.exec(k)?.[1] ?? []);
    const resolved = resolve({ group, now, subfleets: [...new Set(subfleets)] });
    const key = positionals[0];
    const keys = key === undefined ? listedKeys(group, resolved.layers) : [key];
    if (key !== undefined) resolved.settings.raw(key); // unknown keys fail here with a clear error
    const rows = keys.map((k) => {
      const entries = resolved.layers.get(k) ?? [{ key: k, value: resolved.settings.raw(k), layer: 'default' as const, source: 'built-in default' }];
      return { key: k, entries };
    });
    if (values.json === true) {
      io.out(
        JSON.stringify({
          group: group.name,
          at: formatInstant(now),
          settings: rows.map((r) => {
            const win = r.entries.at(-1);
            return {
              key: r.key,
              value: formatKeyValue(r.key, win?.value ?? null),
              layer: win?.layer,
              source: win?.source,
              expiresAt: win?.expiresAt === undefined ? null : formatInstant(win.expiresAt),
              layers: r.entries.map((e) => ({ layer: e.layer, source: e.source, value: formatKeyValue(r.key, e.value), expiresAt: e.expiresAt === undefined ? null : formatInstant(e.expiresAt) })),
            };
          }),
          activeWindows: resolved.windows.active.map((a) => ({ name: a.decl.name, start: formatInstant(a.window.start), end: formatInstant(a.window.end) })),
          warnings: resolved.warnings,
        }),
      );
      return EXIT.ok;
    }
    const header = `group ${group.name} at ${formatInstant(now)}; active windows: ${resolved.windows.active.map((a) => `${a.decl.name} until ${formatInstant(a.window.end)}`).join(', ') || 'none'}`;
    const expires = (e: LayerEntry | undefined): string => (e?.expiresAt === undefined ? '' : formatInstant(e.expiresAt));
    if (key !== undefined) {
      const r = rows[0];
      const lines = (r?.entries ?? []).map((e, i, all) => [i === all.length - 1 ? '*' : '', e.layer, formatKeyValue(key, e.value), e.source, expires(e)]);
      io.out(`${header}\n${key}:\n${table(['', 'layer', 'value', 'set by', 'expires'], lines)}`);
    } else {
      const lines = rows.map((r) => {
        const win = r.entries.at(-1);
        return [r.key, formatKeyValue(r.key, win?.value ?? null), win?.layer ?? 'default', win?.source ?? '', expires(win)];
      });
      io.out(`${header}\n${table(['key', 'value', 'layer', 'set by', 'expires'], lines)}`);
    }
    for (const w of resolved.warnings) io.err(`warning: ${w}`);
    return EXIT.ok;
  },
};

export const configCommands: readonly Command[] = [validate, schema, explain];
