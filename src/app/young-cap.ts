/**
 * The young generation kept small where node cannot be restarted with `--max-semi-space-size` (heap.ts: Node 20, and
 * 22 before 22.15, have no process.execve). Not in heap.ts: the program's entry point loads that before node has set
 * up its standard streams, and this needs node:perf_hooks.
 *
 * V8 (Node 20's 11.3, Node 22's 12.4) grows the young generation (its "new space": two semi-spaces) at a scavenge that
 * found much surviving, to `--semi-space-growth-factor` (default 2) times its size, up to its maximum, and reads that
 * factor at each growth: unlike the maximum, it can be changed while node runs (given at start, a factor below 2 is
 * raised to 2; set later, 1 is kept and means no growth). So the young generation is grown to the size the
 * semi-spaces given would make it (objects kept alive for a moment, a few milliseconds), and the factor is then set to
 * 1. When V8 has shrunk it (it does in a process that allocates little: a controller between ticks), it is grown back
 * to the size after the collection that did (node reports collections just after them). Were it only allowed to grow
 * again, it would grow several steps past the size in one busy stretch of code before node reported any collection.
 *
 * It checks itself: should the young generation grow past the size all the same (Node 24's V8 13.6 sizes it another
 * way and ignores the factor), or should the size be beyond V8's own maximum, it lets go — V8's own young generation,
 * as without it — and says why (`onLost`).
 *
 * Measured (bench/controller.ts, Node 20, 10,000 instances): peak RSS ~170 → ~135 MiB, as with
 * NODE_OPTIONS=--max-semi-space-size=4, tick times within the noise.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** V8's own growth factor of the young generation (its default). */
export const V8_GROWTH_FACTOR = 2;

/** What capYoungGeneration needs from V8 (tests give their own). */
export interface YoungSpace {
  /** The new space's size in bytes (both semi-spaces). */
  size(): number;
  /** Sets a V8 flag. */
  setFlag(flag: string): void;
  /** Allocates a few objects into `keep`, which holds them until dropped (they survive a scavenge or two). */
  allocate(keep: unknown[]): void;
  /** Calls `fn` after garbage collections; returns how to stop. */
  afterGc(fn: () => void): () => void;
}

export const v8YoungSpace: YoungSpace = {
  size: () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0,
  setFlag: setFlagsFromString,
  allocate: (keep) => {
    for (let i = 0; i < 1000; i++) keep.push({ i, s: `survivor ${i}` });
    if (keep.length > 200_000) keep.length = 0; // enough to grow it; more would only be promoted
  },
  afterGc: (fn) => {
    const observer = new PerformanceObserver(() => {
      fn();
    });
    observer.observe({ entryTypes: ['gc'] });
    return () => {
      observer.disconnect();
    };
  },
};

/** Allocation steps without growth after which the size is taken as beyond V8's own maximum. */
const STALLED_STEPS = 2000;

/** A running cap: the growth factor it last set, whether it holds (false: it let go, V8's own); `stop` gives V8 back its own. */
export interface YoungCap {
  readonly limitBytes: number;
  factor(): number;
  holding(): boolean;
  stop(): void;
}

const mib = (bytes: number): string => `${Math.round((bytes / 1_048_576) * 100) / 100} MiB`;

/**
 * Keeps the young generation at about `semiSpaceMiB` per semi-space (see above), until stopped. `onLost`: told once,
 * with why, if it lets go.
 */
export function capYoungGeneration(semiSpaceMiB: number, space: YoungSpace = v8YoungSpace, onLost: (why: string) => void = () => undefined): YoungCap {
  const limitBytes = 2 * semiSpaceMiB * 1_048_576;
  let factor = V8_GROWTH_FACTOR;
  // An object: TypeScript would narrow plain variables across the calls that change them.
  const st = { holding: true, growing: false, heldAt: 0 };
  let unobserve = (): void => undefined;
  const set = (to: number): void => {
    if (to === factor) return;
    space.setFlag(`--semi-space-growth-factor=${to}`);
    factor = to;
  };
  const letGo = (why: string): void => {
    st.holding = false;
    set(V8_GROWTH_FACTOR);
    unobserve();
    onLost(why);
  };
  /** Grows the young generation to the size, then no further. */
  const hold = (): void => {
    st.growing = true;
    set(V8_GROWTH_FACTOR);
    const keep: unknown[] = [];
    let last = space.size();
    let stalled = 0;
    while (space.size() < limitBytes) {
      space.allocate(keep);
      const now = space.size();
      stalled = now === last ? stalled + 1 : 0;
      last = now;
      if (stalled >= STALLED_STEPS) break;
    }
    keep.length = 0;
    st.growing = false;
    if (space.size() < limitBytes) {
      letGo(`the young generation stays at ${mib(space.size())}, short of ${mib(limitBytes)}: V8's own maximum is smaller`);
      return;
    }
    set(1);
    st.heldAt = space.size();
  };
  /** After a collection: grown past where it was held (the factor not honoured), or shrunk by V8 (grown back). */
  const check = (): void => {
    if (!st.holding || st.growing) return;
    const now = space.size();
    if (now > st.heldAt) letGo(`the young generation grew to ${mib(now)} past ${mib(st.heldAt)}: this V8 does not keep to --semi-space-growth-factor`);
    else if (now < limitBytes) hold();
  };
  hold();
  if (st.holding) unobserve = space.afterGc(check);
  return {
    limitBytes,
    factor: () => factor,
    holding: () => st.holding,
    stop: () => {
      unobserve();
      set(V8_GROWTH_FACTOR);
    },
  };
}
