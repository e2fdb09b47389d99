import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isUserError, ValidationError, ValidationErrors } from '../domain/errors.js';
import { escapeControl } from '../domain/text.js';

export { escapeControl };

/** Where a command writes; tests capture it, the binary wires it to the process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /**
   * What the program's entry point did about `run`'s young generation before anything else (src/app/heap.ts
   * startYoungGeneration), for the log: absent when a command runs in another program's process (tests).
   */
  readonly youngGeneration?: string;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Exit codes: 0 ok, 1 operational failure, 2 bad input or usage, 3 `plan` found changes pending (0: nothing to do). */
export const EXIT = { ok: 0, failure: 1, usage: 2, changes: 3 } as const;

export class UsageError extends ValidationError {
  override readonly name: string = 'UsageError';
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(args: string[], io: CliIo): Promise<number> | number;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** `util.parseArgs` with strict checking, and its errors turned into a `UsageError` naming the flag. */
export function parse<T extends Options>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const flag = /'(-{1,2}[\w-]+)/.exec(message)?.[1] ?? '';
    throw new UsageError(flag, message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(flag, `expected a whole number from ${min} to ${max}, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(flag, `expected a whole number from ${min} to ${max}, got ${n}`);
  return n;
}

/** Runs a command, printing user mistakes as one line on stderr (no stack) and bugs with their stack. */
export async function runCommand(command: Command, args: string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (isUserError(err)) {
      // One line per problem; a value quoted in one (from an API answer, say) cannot add lines of its own.
      io.err(`error: ${(err instanceof ValidationErrors ? err.issues.map((i) => i.message) : [err.message]).map(escapeControl).join('\n')}`);
      return EXIT.usage;
    }
    io.err(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT.failure;
  }
}

/**
 * Renders rows as an aligned text table. Cells are values from the store and the cloud (tags, reasons, instance
 * ids): their control characters are escaped, so no value can break a row into forged lines or send terminal
 * escapes. (--json output is JSON.stringify's, exact.)
 */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((r) => r.map(escapeControl));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
