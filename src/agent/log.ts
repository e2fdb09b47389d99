/**
 * The agent's log: stderr, or a file rotated on time (`when,interval,backups`, as the seed's watcher: `d,1,7` =
 * every day, keep 7 rotated files). Rotated files are named `<file>.YYYY-MM-DD_HH-MM-SS` (UTC, the start of the
 * period they cover) so they sort by age. The clock is an input: tests move it.
 */
import { appendFileSync, existsSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FleetwardenError } from '../domain/errors.js';
import { escapeControl } from '../domain/text.js';

export interface RotateSpec {
  readonly intervalMs: number;
  readonly backups: number;
}

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** A mistake in the agent's command line: names the option and the reason. */
export class AgentUsageError extends FleetwardenError {
  override readonly name: string = 'AgentUsageError';
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`, {}, 'invalid-input');
    this.field = field;
  }
}

/** Parses `when,interval,backups`: when is s, m, h, d or w; interval ≥ 1; backups 0-1000. */
export function parseRotate(spec: string, field = '--log-file-rotate'): RotateSpec {
  const m = /^([smhdwSMHDW]),(\d{1,6}),(\d{1,4})$/.exec(spec.trim());
  if (!m) throw new AgentUsageError(field, `expected when,interval,backups with when one of s, m, h, d, w (e.g. d,1,7), got ${JSON.stringify(spec)}`);
  const unit = UNITS[(m[1] ?? 'd').toLowerCase()] ?? UNITS['d'] ?? 86_400_000;
  const interval = Number(m[2]);
  const backups = Number(m[3]);
  if (interval < 1) throw new AgentUsageError(field, 'the interval must be at least 1');
  if (backups > 1000) throw new AgentUsageError(field, 'at most 1000 backups');
  return { intervalMs: unit * interval, backups };
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', '_').replace(/:/g, '-');
}

export interface Logger {
  info(message: string): void;
  error(message: string): void;
}

export class AgentLog implements Logger {
  private readonly file: string | null;
  private readonly spec: RotateSpec;
  private readonly now: () => number;
  private nextRotation: number;
  /** Only a regular file rotates: /dev/null, a FIFO or a terminal is written to as it is, never renamed. */
  private readonly rotates: boolean;

  constructor(file: string | null, spec: RotateSpec, now: () => number) {
    this.file = file;
    this.spec = spec;
    this.now = now;
    const st = file !== null && existsSync(file) ? statSync(file) : null;
    this.rotates = file !== null && (st === null || st.isFile());
    // As Python's TimedRotatingFileHandler: an existing file rotates one interval after it was last written.
    this.nextRotation = (st?.mtimeMs ?? now()) + spec.intervalMs;
  }

  info(message: string): void {
    this.write('INFO', message);
  }

  error(message: string): void {
    this.write('ERROR', message);
  }

  /**
   * The one place a log line is made: every control character of the message is escaped (a script's output, an
   * API value), so one call is one line and nothing in a value can forge another or drive the terminal.
   */
  private write(level: string, message: string): void {
    const now = this.now();
    const line = `${new Date(now).toISOString()} ${level} ${escapeControl(message.replace(/\n+$/, ''))}\n`;
    if (this.file === null) {
      process.stderr.write(line);
      return;
    }
    if (this.rotates && now >= this.nextRotation) this.rotate(now);
    appendFileSync(this.file, line, { mode: 0o640 });
  }

  private rotate(now: number): void {
    const file = this.file;
    if (file === null) return;
    // Named by the start of the period the file covers, as Python's TimedRotatingFileHandler does.
    if (existsSync(file)) renameSync(file, `${file}.${stamp(this.nextRotation - this.spec.intervalMs)}`);
    const prefix = `${basename(file)}.`;
    const rotated = readdirSync(dirname(file))
      .filter((n) => n.startsWith(prefix) && /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$/.test(n.slice(prefix.length)))
      .sort();
    for (const old of rotated.slice(0, Math.max(0, rotated.length - this.spec.backups))) unlinkSync(join(dirname(file), old));
    // The next boundary after now, so a long idle period does not rotate once per missed interval.
    this.nextRotation = now + this.spec.intervalMs;
  }
}
