import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FleetConfig } from '../config/config.js';
import { loadConfigFile, parseConfigText } from '../config/load.js';
import { openFleetReader, openStore, storeExists, storePathOf } from '../app/compose.js';
import { type SimulationReport, simulate } from '../app/simulate.js';
import { measuredTimings, readWorldFile, seedOf, takeSnapshot, type WorldFile, writeWorldFile } from '../app/world.js';
import { formatDuration } from '../domain/durations.js';
import { ProviderError } from '../domain/errors.js';
import { formatInstant } from '../domain/time.js';
import type { Store } from '../ports/index.js';
import { DEFAULT_CONFIG, DEFAULT_STATE_DIR } from './remote.js';
import { type CliIo, type Command, escapeControl, EXIT, parse, table, UsageError } from './io.js';

const snapshot: Command = {
  name: 'snapshot',
  summary: 'read the real fleet once (read-only) into a world file that simulate --world starts from',
  help: `Usage: fleetwarden snapshot --out FILE [--config FILE] [--state-dir DIR] [--json]

Reads the fleet once through the configured provider (AWS, or the simulated world 'run' keeps), making read-only
calls only, and writes a world file (docs/cli.md#snapshot): the instances the configuration's groups select (tags,
zone, type, power), the managed target groups with their members and deregistration delays, the SSM windows with
their tags (ssm.discovery), the configuration file itself (the fleet's current configuration), and from the store
when there is one: which instances' agents reported, and boot, stop and drain times measured from the history
(median per group; groups without samples keep the simulator's defaults).

  --out FILE        the world file to write (atomically; an existing one is replaced)
  --config FILE     configuration file (default ${DEFAULT_CONFIG})
  --state-dir DIR   where the SQLite store (and the simulated world) live (default ${DEFAULT_STATE_DIR}/)
  --json            the summary as one JSON object (see docs/cli.md#snapshot)`,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values } = parse(args, { out: { type: 'string' }, config: { type: 'string' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } }, false);
    if (values.out === undefined || values.out === '') throw new UsageError('--out', 'is required: the world file to write, e.g. --out world.json');
    const configPath = values.config ?? DEFAULT_CONFIG;
    const config = loadConfigFile(configPath);
    const text = readFileSync(configPath, 'utf8');
    const stateDir = values['state-dir'] ?? DEFAULT_STATE_DIR;
    const reader = await openFleetReader(config, stateDir);
    const where = storePathOf(config, stateDir);
    let store: Store | null = null;
    let storeNote = `no store at ${where}`;
    if (storeExists(config, stateDir)) {
      storeNote = `store ${where}`;
      try {
        store = await openStore(config, stateDir, { readOnly: true });
      } catch (err) {
        storeNote = `store ${where}: not opened (${err instanceof Error ? err.message : String(err)})`;
      }
    }
    let world: WorldFile;
    try {
      world = await takeSnapshot({ config, configFile: { path: resolve(configPath), text }, reader, store, storeNote });
    } catch (err) {
      // The cloud refused or failed (credentials, permissions, throttling): an operational failure, said in one line.
      if (!(err instanceof ProviderError)) throw err;
      io.err(escapeControl(`error: cannot read the fleet (nothing written): ${err.message}`));
      return EXIT.failure;
    } finally {
      await store?.close();
    }
    writeWorldFile(values.out, world);
    const measured = measuredTimings(world);
    const agents = world.instances.filter((i) => i.agentSeenAt !== null).length;
    const summary = {
      file: values.out,
      takenAt: world.takenAt,
      provider: world.provider,
      instances: world.instances.length,
      targetGroups: world.targetGroups.length,
      windows: world.windows.length,
      agents,
      measured,
      store: world.store,
    };
    if (values.json === true) {
      io.out(JSON.stringify(summary));
      return EXIT.ok;
    }
    const timings = measured.length === 0 ? 'no timings measured (simulator defaults)' : `measured ${measured.map((m) => `${m.group} ${m.kind} ${formatDuration(m.ms)} (${m.samples})`).join(', ')}; others default`;
    io.out(`${values.out}: ${world.instances.length} instances, ${world.targetGroups.length} target groups, ${world.windows.length} windows, ${agents} with agents; ${timings} (${world.provider}, ${world.takenAt}${world.store.read ? '' : `, ${world.store.detail}`})`);
    return EXIT.ok;
  },
};

export const worldCommands: readonly Command[] = [snapshot];

/** The figures the comparison shows, in order; instance-hours by state come first. */
function figures(r: SimulationReport, states: readonly string[]): [string, number][] {
  return [
    ...states.map((s): [string, number] => [`instance-hours ${s}`, Math.round(((r.timeInState[s] ?? 0) / 3_600_000) * 100) / 100]),
    ['instance-hours total', Math.round((Object.values(r.timeInState).reduce((a, b) => a + b, 0) / 3_600_000) * 100) / 100],
    ['starts', r.starts],
    ['stops', r.stops],
    ['forced stops', r.forcedStops],
    ['windows entered', r.windowsEntered],
    ['stops during a window', r.stopsInWindow],
    ['maintenance tasks run', r.tasks.run],
    ['maintenance tasks failed', r.tasks.failed],
    ['max out of service', r.maxOutOfService],
    ['retries', r.retries],
  ];
}

/**
 * The configuration as simulated on a world: the simulator answers in-instance events and tasks itself, so event
 * delivery is the provider's on both sides (no agent answers in a simulation).
 */
function forWorld(config: FleetConfig): FleetConfig {
  return { ...config, provider: 'simulator', controller: { ...config.controller, eventDelivery: 'run-command' } };
}

/** `simulate --world`: the new configuration and the current one (the world's, or --against) on the same world. */
export async function simulateWorld(opts: { world: string; config: string; against: string | undefined; from: number; to: number; json: boolean }, io: CliIo): Promise<number> {
  const world = readWorldFile(opts.world);
  const next = loadConfigFile(opts.config);
  const current = opts.against !== undefined ? loadConfigFile(opts.against) : parseConfigText(world.config.text, `${opts.world}: config.text`);
  const seed = seedOf(world);
  const quiet = (): void => undefined;
  const cur = await simulate(forWorld(current), opts.from, opts.to, quiet, { seed });
  const neu = await simulate(forWorld(next), opts.from, opts.to, quiet, { seed });
  const states = [...new Set([...Object.keys(cur.timeInState), ...Object.keys(neu.timeInState)])].sort();
  const a = figures(cur, states);
  const b = figures(neu, states);
  const rows = a.map(([name, v], n) => {
    const w = b[n]?.[1] ?? 0;
    return { figure: name, current: v, new: w, change: Math.round((w - v) * 100) / 100 };
  });
  if (opts.json) {
    io.out(JSON.stringify({ world: opts.world, takenAt: world.takenAt, from: formatInstant(opts.from), to: formatInstant(opts.to), current: { config: opts.against ?? `${opts.world} (embedded)`, report: cur }, new: { config: opts.config, report: neu }, change: Object.fromEntries(rows.map((r) => [r.figure, r.change])) }));
    return EXIT.ok;
  }
  const measured = measuredTimings(world);
  io.out(`world ${opts.world} (${world.instances.length} instances, taken ${world.takenAt}; ${measured.length === 0 ? 'default timings' : `measured: ${measured.map((m) => `${m.group} ${m.kind}`).join(', ')}`})`);
  io.out(`${formatInstant(opts.from)} → ${formatInstant(opts.to)}: current = ${opts.against ?? 'the configuration in the world file'}, new = ${opts.config}\n`);
  const sign = (n: number): string => (n > 0 ? `+${n}` : String(n));
  io.out(table(['figure', 'current', 'new', 'change'], rows.map((r) => [r.figure, String(r.current), String(r.new), r.change === 0 ? '0' : sign(r.change)])));
  if (neu.stopsInWindow > 0) io.out(`\nwarning: the new configuration stops ${neu.stopsInWindow} instance(s) during maintenance windows`);
  return EXIT.ok;
}

/** Checks --against and --world together (and names the flag at fault). */
export function checkWorldFlags(world: string | undefined, against: string | undefined): void {
  if (against !== undefined && world === undefined) throw new UsageError('--against', 'compares against a world simulation: give --world FILE too');
  if (world === '') throw new UsageError('--world', 'expected a world file (from fleetwarden snapshot)');
}

