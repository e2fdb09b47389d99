/**
 * The controller's logger (pino): levels, JSON Lines or the readable text `run` has always printed, per-group child
 * loggers (a `group` field). Two loggers share one configuration: `events` (what the fleet does: transitions,
 * commands, windows, retries) on stdout, `diag` (the process itself: API refusals and errors, failed ticks, the
 * admin-token notice) on stderr — where each went before there was a logger. Not for the on-instance agent, which
 * stays dependency-free (src/agent/log.ts).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { escapeControl } from '../domain/text.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Never logged, wherever they appear in a logged object (top level or one level down, and request headers):
 * bearer tokens, API tokens, AWS secrets. A safety net: nothing should pass a token to the logger at all.
 */
export const REDACTED_PATHS = [
  'authorization',
  'token',
  'adminToken',
  'password',
  'secretAccessKey',
  'sessionToken',
  'credentials',
  '*.authorization',
  '*.token',
  '*.adminToken',
  '*.password',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.credentials',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-amz-security-token"]',
  '*.headers["x-amz-security-token"]',
];

export interface LogOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

/** One line (without its newline) to a stream: the CLI's stdout or stderr, or a test's array. */
type Sink = (line: string) => void;

/**
 * Text: the message alone, control characters escaped (values from the cloud cannot forge lines or send terminal
 * escapes); an internal error's stack follows on its own lines. JSON: pino's line as it is.
 */
function destination(format: LogFormat, sink: Sink): DestinationStream {
  return {
    write(line: string): void {
      if (format === 'json') {
        sink(line.endsWith('\n') ? line.slice(0, -1) : line);
        return;
      }
      const entry = JSON.parse(line) as { msg?: unknown; stack?: unknown };
      const text = escapeControl(typeof entry.msg === 'string' ? entry.msg : '');
      sink(typeof entry.stack === 'string' ? `${text}\n${entry.stack}` : text);
    },
  };
}

export function makeLogger(options: LogOptions, sink: Sink): Logger {
  return pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    },
    destination(options.format, sink),
  );
}

export interface ControllerLog {
  /** What the fleet does (stdout). */
  readonly events: Logger;
  /** The process itself (stderr). */
  readonly diag: Logger;
  /** The events logger of one group (its lines carry `group`). */
  group(name: string): Logger;
}

export function controllerLog(options: LogOptions, out: Sink, err: Sink): ControllerLog {
  const events = makeLogger(options, out);
  const diag = makeLogger(options, err);
  const children = new Map<string, Logger>();
  return {
    events,
    diag,
    group(name) {
      let child = children.get(name);
      if (child === undefined) {
        child = events.child({ group: name });
        children.set(name, child);
      }
      return child;
    },
  };
}
