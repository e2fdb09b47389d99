/**
 * In-instance scripts run by the agent. Values reach a script as argv entries (execFile, no shell), never
 * interpolated into a command line. Each run has a time limit: SIGTERM, then SIGKILL 5 s later.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isLifecycleState } from '../domain/lifecycle.js';
import { isEventName } from '../domain/model.js';

export interface ScriptRun {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** Stopped by `signal` (a cancelled maintenance script). */
  readonly cancelled?: boolean;
  /** stdout and stderr interleaved, at most `maxOutput` characters (the tail is kept). */
  readonly output: string;
  readonly error?: string;
}

const MAX_OUTPUT = 64 * 1024;

/** Runs a file under a time limit; `signal` stops it early the same way (its whole process group, TERM then KILL). */
export function runScript(path: string, args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<ScriptRun> {
  return new Promise((resolveRun) => {
    let output = '';
    let timedOut = false;
    let cancelled = false;
    const child = spawn(path, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
    const append = (d: Buffer): void => {
      output += d.toString('utf8');
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    // The whole process group goes: a script's own children must not outlive its time limit.
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        /* already gone */
      }
    };
    let hard: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (hard !== undefined) return;
      killGroup('SIGTERM');
      hard = setTimeout(() => {
        killGroup('SIGKILL');
      }, 5000);
    };
    const soft = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      clearTimeout(soft);
      signal?.removeEventListener('abort', onAbort);
      resolveRun({ exitCode: null, timedOut: false, output, error: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(soft);
      if (hard) clearTimeout(hard);
      signal?.removeEventListener('abort', onAbort);
      resolveRun({ exitCode: code, timedOut: timedOut && !cancelled, ...(cancelled ? { cancelled } : {}), output });
    });
  });
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Executable files of `<dir>/<state>/`, in name order (hidden files and editor backups skipped). Only a lifecycle
 * state names a directory: `../x` or `/etc` never leaves `dir` (view.ts refuses them first; this is the backstop).
 */
/** Drain hooks (docs/agent.md#hooks): run when maintenance takes the instance out of service and puts it back. */
export const HOOKS = ['take-out', 'put-back'] as const;
export type Hook = (typeof HOOKS)[number];

export function stateScripts(dir: string, state: string): string[] {
  // A closed set of names: a state or a hook from the network is never a path of its own.
  if (!isLifecycleState(state) && !(HOOKS as readonly string[]).includes(state)) return [];
  const sub = join(dir, state);
  if (!existsSync(sub)) return [];
  return readdirSync(sub)
    .filter((n) => !n.startsWith('.') && !n.endsWith('~'))
    .sort()
    .map((n) => join(sub, n))
    .filter(executable);
}

export type EventOutcome = 'success' | 'failed';

/**
 * An event script by the exit-code table of docs/lifecycle.md#event-scripts: absent → success; present but not
 * executable → failure; exit 0 → success; any other exit, a signal or the time limit → failure.
 */
export async function runEventScript(dir: string, event: string, args: readonly string[], timeoutMs: number): Promise<{ outcome: EventOutcome; exitCode: number | null; output: string }> {
  if (!isEventName(event)) return { outcome: 'failed', exitCode: null, output: `refused: unknown event ${JSON.stringify(event)}` };
  const path = join(dir, event);
  if (!existsSync(path)) return { outcome: 'success', exitCode: null, output: `no script ${path}: nothing to do` };
  if (!executable(path)) return { outcome: 'failed', exitCode: null, output: `${path} exists but is not an executable file` };
  const r = await runScript(path, args, timeoutMs);
  if (r.timedOut) return { outcome: 'failed', exitCode: r.exitCode, output: `${r.output}\n[killed after ${timeoutMs} ms]` };
  return { outcome: r.exitCode === 0 ? 'success' : 'failed', exitCode: r.exitCode, output: r.error === undefined ? r.output : `${r.output}${r.error}` };
}

/** The bypass file check of a tier stop: present or absent, unknown when it cannot be told. */
export function checkBypassFile(path: string): 'present' | 'absent' | 'unknown' {
  try {
    statSync(path);
    return 'present';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unknown';
  }
}

/** The journal of maintenance scripts in progress: one JSON file, replaced atomically on every change. */
export class FileJournal {
  private readonly file: string;
  private entries: Record<string, { state: 'running' | 'reboot'; reboots: number }>;

  constructor(file: string) {
    this.file = file;
    try {
      this.entries = JSON.parse(readFileSync(file, 'utf8')) as typeof this.entries;
    } catch {
      this.entries = {};
    }
  }

  get(id: string): { state: 'running' | 'reboot'; reboots: number } | undefined {
    return this.entries[id];
  }

  set(id: string, entry: { state: 'running' | 'reboot'; reboots: number }): void {
    this.entries = { ...this.entries, [id]: entry };
    this.save();
  }

  delete(id: string): void {
    const { [id]: _gone, ...rest } = this.entries;
    this.entries = rest;
    this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.entries), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
