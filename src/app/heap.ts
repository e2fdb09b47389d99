import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it collects again, for a
 * long-lived controller process (`fleetwarden run`): 20%.
 *
 * A tick keeps what it read until the next one (the observation, the cached records), so each tick's leftovers are
 * promoted and then die. V8 on a machine with memory to spare lets such garbage grow the heap to several times what
 * is live before it collects (up to 4×): at 10,000 instances ~25 MiB live grew the process to ~230 MiB, at 30,000 to
 * ~415 MiB. At 20% the same runs peaked at ~170 and ~230 MiB with the tick's time unchanged within the noise
 * (bench/controller.ts measures it; the flag only spaces full collections, each of which marks what is live).
 */
export const CONTROLLER_HEAP_GROWING_PERCENT = 20;

/** V8 options that say how the heap may grow: given by the user (NODE_OPTIONS or node's own arguments), they win. */
const HEAP_FLAG = /^--(heap-growing-percent|max-old-space-size|max-semi-space-size|min-semi-space-size|optimize-for-size|initial-old-space-size|initial-heap-size)(=|$)/;

/**
 * Applies CONTROLLER_HEAP_GROWING_PERCENT to this process unless the user tuned the heap themselves; returns the
 * option applied, or null. Takes effect from the next collection on (V8 reads it at each one).
 */
export function tuneControllerHeap(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env['NODE_OPTIONS'] ?? ''): string | null {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.replaceAll('_', '-'));
  if (given.some((a) => HEAP_FLAG.test(a))) return null;
  const flag = `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`;
  setFlagsFromString(flag);
  return flag;
}
