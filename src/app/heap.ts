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
