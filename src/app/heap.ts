import { accessSync, constants } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { ValidationError } from '../domain/errors.js';

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it collects again, for a
 * long-lived controller process (`fleetwarden run`): 20%.
 *
 * A tick keeps what it read until the next one (the observation, the cached records), so each tick's leftovers are
 * promoted and then die. With memory to spare V8 lets such garbage grow the heap to several times what is live
 * before it collects. Measured back to back (bench/controller.ts): at 10,000 instances the peak RSS goes from ~230
 * to ~170 MiB with the tick's time unchanged within the noise; at 100,000 from ~960 to ~430 MiB, but there the
 * more frequent full collections (each marks the ~300 MiB that is live) make a tick 10–35% slower. Hence the
 * setting FLEETWARDEN_HEAP_GROWING_PERCENT (0: V8's own heuristics).
 */
export const CONTROLLER_HEAP_GROWING_PERCENT = 20;

/** The environment variable that sets it (0 leaves V8's own heuristics). */
export const HEAP_GROWING_ENV = 'FLEETWARDEN_HEAP_GROWING_PERCENT';

/** The same option given to node itself wins (NODE_OPTIONS cannot carry it; node's own arguments can). */
const GROWING_FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/** What tuneControllerHeap did: the option it applied (null: none), and why, for the log. */
export interface HeapTuning {
  readonly applied: string | null;
  readonly note: string;
}

/**
 * Applies FLEETWARDEN_HEAP_GROWING_PERCENT (default CONTROLLER_HEAP_GROWING_PERCENT) to this process, unless node was
 * started with `--heap-growing-percent` itself. A value that is not a whole number from 0 to 1000 (surrounding blanks
 * allowed; empty: unset) is refused naming the variable. Takes effect from the next collection on (V8 reads it at each
 * one). Other heap options (NODE_OPTIONS=--max-semi-space-size=N for the young generation, --max-old-space-size) are
 * about other things and combine with it. `apply`: how the option is set (tests pass their own).
 */
export function tuneControllerHeap(env: Readonly<Record<string, string | undefined>> = process.env, execArgv: readonly string[] = process.execArgv, apply: (flag: string) => void = setFlagsFromString): HeapTuning {
  const raw = (env[HEAP_GROWING_ENV] ?? '').trim();
  if (raw !== '' && (!/^\d+$/.test(raw) || Number(raw) > 1000)) throw new ValidationError(HEAP_GROWING_ENV, `expected a whole number of percent from 0 (V8's own heuristics) to 1000, got ${JSON.stringify(env[HEAP_GROWING_ENV])}`);
  const percent = raw === '' ? CONTROLLER_HEAP_GROWING_PERCENT : Number(raw);
  const own = execArgv.find((a) => GROWING_FLAG.test(a));
  if (own !== undefined) return { applied: null, note: `node was started with ${own}: it stays${raw === '' ? '' : ` (${HEAP_GROWING_ENV}=${raw} is not applied)`}` };
  if (percent === 0) return { applied: null, note: `${HEAP_GROWING_ENV}=0: V8's own heap growth` };
  const flag = `--heap-growing-percent=${percent}`;
  apply(flag);
  return { applied: flag, note: `V8 heap tuned for a long-lived controller (${flag})` };
}

/**
 * The semi-space size (MiB) `fleetwarden run` starts node with: the young generation is two of them. 4 MiB.
 *
 * V8 sizes the young generation from the machine's memory, and Node 24's grows to 128 MiB on a 24 GiB host: most of
 * the ~300 MiB a controller of 10,000 instances peaked at there, against ~165 MiB with 4 MiB semi-spaces (Node 20:
 * ~172 → ~137 MiB), for tick times within the noise (bench/controller.ts, docs/development.md). At 100,000
 * instances it costs time: ticks ~40% longer than with V8's own (~520 → ~420 MiB), where 16 MiB comes close to V8's
 * speed for the same memory; but at 10,000 16 MiB saves far less (peaks: Node 20 ~172 MiB, as without it; Node 24
 * ~190 against ~165). V8 reads the size only when node starts, so `run` restarts node with it, in the same process
 * (process.execve).
 */
export const CONTROLLER_SEMI_SPACE_MB = 4;

/** The environment variable that sets it (0 leaves V8's own young generation). */
export const SEMI_SPACE_ENV = 'FLEETWARDEN_SEMI_SPACE_MB';

const SEMI_SPACE_FLAG = /^--max[-_]semi[-_]space[-_]size(=|$)/;
const GROWTH_FACTOR_FLAG = /^--semi[-_]space[-_]growth[-_]factor(=|$)/;

/**
 * NODE_OPTIONS split into options as node splits it (src/node_options.cc): at spaces, except inside double quotes,
 * which are removed (a backslash inside them keeps the next character as it is).
 */
export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let current: string | null = null;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    let c = value[i] ?? '';
    if (quoted && c === '\\' && i + 1 < value.length) c = value[++i] ?? '';
    else if (c === '"') {
      quoted = !quoted; // empty quotes make no option, as in node
      continue;
    } else if (c === ' ' && !quoted) {
      if (current !== null) out.push(current);
      current = null;
      continue;
    }
    current = (current ?? '') + c;
  }
  if (current !== null) out.push(current);
  return out;
}

/** A V8 option as node has it: among its own arguments, else in NODE_OPTIONS; or null. */
function nodeOption(flag: RegExp, execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | null {
  return execArgv.find((a) => flag.test(a)) ?? splitNodeOptions(env['NODE_OPTIONS'] ?? '').find((a) => flag.test(a)) ?? null;
}

/** The young generation's option as node has it: among its own arguments, else in NODE_OPTIONS; or null. */
export function semiSpaceOption(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): string | null {
  return nodeOption(SEMI_SPACE_FLAG, execArgv, env);
}

/**
 * What youngGeneration decided: the node option to restart with (null: none); else the semi-space size (MiB) to keep
 * the young generation near by V8's growth factor (young-cap.ts; null: none); and why, for the log.
 */
export interface YoungGeneration {
  readonly restartWith: string | null;
  readonly capMiB: number | null;
  readonly note: string;
}

/**
 * Whether `fleetwarden run` restarts node with `--max-semi-space-size` = FLEETWARDEN_SEMI_SPACE_MB (default
 * CONTROLLER_SEMI_SPACE_MB): not when node already has that option (its own arguments, which a restart adds, or
 * NODE_OPTIONS), not for 0, and not when this process cannot restart (`cannotRestart`: why, e.g. no process.execve
 * before Node 22.15): the young generation is then kept near that size by V8's growth factor instead (capMiB,
 * young-cap.ts), and the note says what sets it exactly. A value that is not a whole number from 0 to 1024
 * (surrounding blanks allowed; empty: unset) is refused naming the variable.
 */
export function youngGeneration(env: Readonly<Record<string, string | undefined>>, execArgv: readonly string[], cannotRestart: string | null): YoungGeneration {
  const raw = (env[SEMI_SPACE_ENV] ?? '').trim();
  if (raw !== '' && (!/^\d+$/.test(raw) || Number(raw) > 1024)) throw new ValidationError(SEMI_SPACE_ENV, `expected a whole number of MiB from 0 (V8's own young generation) to 1024, got ${JSON.stringify(env[SEMI_SPACE_ENV])}`);
  const mb = raw === '' ? CONTROLLER_SEMI_SPACE_MB : Number(raw);
  const own = semiSpaceOption(execArgv, env);
  if (own !== null) return { restartWith: null, capMiB: null, note: `node runs with ${own}` };
  if (mb === 0) return { restartWith: null, capMiB: null, note: `${SEMI_SPACE_ENV}=0: V8's own young generation` };
  const flag = `--max-semi-space-size=${mb}`;
  if (cannotRestart !== null) {
    // The cap works by the growth factor (young-cap.ts): one node was given is node's own, and stays.
    const growth = nodeOption(GROWTH_FACTOR_FLAG, execArgv, env);
    if (growth !== null) return { restartWith: null, capMiB: null, note: `node runs with ${growth}: V8's own young generation with it (cannot restart node with ${flag}: ${cannotRestart}); NODE_OPTIONS=${flag} sets it` };
    return { restartWith: null, capMiB: mb, note: `young generation kept near ${mb} MiB semi-spaces by V8's growth factor: cannot restart node with ${flag} (${cannotRestart}); NODE_OPTIONS=${flag} sets it exactly` };
  }
  return { restartWith: flag, capMiB: null, note: `restarting node with ${flag}` };
}

type Execve = (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => never;

/**
 * Restarts this node process in place with `nodeOption` before its script's arguments: same process id, standard
 * streams and environment (process.execve). Only for the program's entry point, before it has touched its standard
 * streams (node would leave a pipe it shares non-blocking) or opened anything. A string when this process cannot:
 * why. Node aborts the process when the system call itself fails, so what can be checked first is: the executable
 * and the script, an IPC channel (a fork()ed process: a restart would close it), node's permission model.
 */
export function processRestart(): ((nodeOption: string) => never) | string {
  const execve = (process as { execve?: Execve }).execve;
  const script = process.argv[1];
  if (typeof execve !== 'function') return `node ${process.version} has no process.execve: Node 22.15 or later has`;
  if (process.platform === 'win32') return 'not on Windows';
  if (script === undefined) return 'no script to restart';
  if (process.channel !== undefined) return 'node was started with an IPC channel, which a restart would close';
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  if (permission !== undefined && !permission.has('child')) return "node's permission model does not allow it";
  try {
    accessSync(process.execPath, constants.X_OK);
    accessSync(script, constants.R_OK);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return (nodeOption) => execve.call(process, process.execPath, [process.execPath, ...process.execArgv, nodeOption, script, ...process.argv.slice(2)], process.env);
}

/**
 * `fleetwarden run` at the program's entry point, first thing: restarts node in place with its young generation
 * (never returns), or returns what it did instead, for the log. Throws the ValidationError of a bad variable.
 */
export function startYoungGeneration(env: Readonly<Record<string, string | undefined>>, execArgv: readonly string[], restart: ((nodeOption: string) => never) | string): string {
  const decided = youngGeneration(env, execArgv, typeof restart === 'string' ? restart : null);
  if (decided.restartWith === null || typeof restart === 'string') return decided.note;
  try {
    return restart(decided.restartWith);
  } catch (err) {
    // run then finds no option and keeps the young generation near the size by the growth factor (young-cap.ts).
    return `young generation kept near ${decided.restartWith.replace(/^.*=/, '')} MiB semi-spaces by V8's growth factor: could not restart node with ${decided.restartWith} (${err instanceof Error ? err.message : String(err)})`;
  }
}
