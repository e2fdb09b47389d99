import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { CONTROLLER_HEAP_GROWING_PERCENT, CONTROLLER_SEMI_SPACE_MB, HEAP_GROWING_ENV, SEMI_SPACE_ENV, splitNodeOptions, startYoungGeneration, tuneControllerHeap, youngGeneration } from '../../src/app/heap.js';

const DEFAULT = `--heap-growing-percent=${CONTROLLER_HEAP_GROWING_PERCENT}`;

/** The option tuneControllerHeap would set in this process, without setting it. */
function applied(env: Record<string, string | undefined>, execArgv: readonly string[] = []): string | null {
  const set: string[] = [];
  const r = tuneControllerHeap(env, execArgv, (flag) => set.push(flag));
  assert.deepEqual(set, r.applied === null ? [] : [r.applied], 'what it says it applied is what it set');
  return r.applied;
}

describe('the heap of a long-lived controller (src/app/heap.ts)', () => {
  it('is tuned when nobody said how the heap may grow, to FLEETWARDEN_HEAP_GROWING_PERCENT when set', () => {
    assert.equal(applied({}), DEFAULT);
    assert.equal(applied({ NODE_OPTIONS: '--trace-warnings' }, ['--enable-source-maps']), DEFAULT);
    for (const unset of ['', '  ']) assert.equal(applied({ [HEAP_GROWING_ENV]: unset }), DEFAULT, JSON.stringify(unset));
    assert.equal(applied({ [HEAP_GROWING_ENV]: '50' }), '--heap-growing-percent=50');
    assert.equal(applied({ [HEAP_GROWING_ENV]: ' 35 ' }), '--heap-growing-percent=35');
    assert.equal(applied({ [HEAP_GROWING_ENV]: '0010' }), '--heap-growing-percent=10');
    assert.equal(applied({ [HEAP_GROWING_ENV]: '01000' }), '--heap-growing-percent=1000');
    // 0: V8's own heuristics, nothing applied, and the log says so.
    assert.equal(applied({ [HEAP_GROWING_ENV]: '0' }), null);
    assert.match(tuneControllerHeap({ [HEAP_GROWING_ENV]: '0' }, [], () => assert.fail('nothing is set')).note, /V8's own heap growth/);
  });

  it("is left alone when node itself was started with --heap-growing-percent, and says so; other heap options combine with it", () => {
    assert.equal(applied({ [HEAP_GROWING_ENV]: '50' }, ['--heap-growing-percent=80']), null);
    assert.match(tuneControllerHeap({ [HEAP_GROWING_ENV]: '50' }, ['--heap-growing-percent=80'], () => assert.fail('nothing is set')).note, /started with --heap-growing-percent=80: it stays \(FLEETWARDEN_HEAP_GROWING_PERCENT=50 is not applied\)/);
    assert.equal(applied({}, ['--heap_growing_percent=80']), null);
    // A flag that only starts like it is not it.
    assert.equal(applied({}, ['--heap-growing-percentage=80']), DEFAULT);
    // The young generation's size and the old generation's cap are other matters.
    assert.equal(applied({ NODE_OPTIONS: '--max-semi-space-size=4 --max-old-space-size=512' }, ['--max-semi-space-size=4']), DEFAULT);
  });

  it('refuses a value that is not a whole percent from 0 to 1000, naming the variable, and sets nothing', () => {
    for (const bad of ['-5', '20%', 'lots', '1001', '1.5', '0x10', '1e3', '+20', '2 0']) {
      assert.throws(() => tuneControllerHeap({ [HEAP_GROWING_ENV]: bad }, [], () => assert.fail('nothing is set')), (err: unknown) => err instanceof ValidationError && err.field === HEAP_GROWING_ENV && err.message.includes(JSON.stringify(bad)), bad);
    }
  });
});

describe("the young generation of a long-lived controller (src/app/heap.ts youngGeneration)", () => {
  const restartWith = (env: Record<string, string | undefined>, execArgv: readonly string[] = []): string | null => youngGeneration(env, execArgv, null).restartWith;

  it('is given by a restart with --max-semi-space-size, FLEETWARDEN_SEMI_SPACE_MB when set, the default otherwise', () => {
    assert.equal(restartWith({}), `--max-semi-space-size=${CONTROLLER_SEMI_SPACE_MB}`);
    assert.equal(restartWith({ NODE_OPTIONS: '--trace-warnings --max-old-space-size=512' }, ['--enable-source-maps']), `--max-semi-space-size=${CONTROLLER_SEMI_SPACE_MB}`);
    for (const unset of ['', '  ']) assert.equal(restartWith({ [SEMI_SPACE_ENV]: unset }), `--max-semi-space-size=${CONTROLLER_SEMI_SPACE_MB}`, JSON.stringify(unset));
    assert.equal(restartWith({ [SEMI_SPACE_ENV]: ' 16 ' }), '--max-semi-space-size=16');
    assert.equal(restartWith({ [SEMI_SPACE_ENV]: '01024' }), '--max-semi-space-size=1024');
    assert.equal(restartWith({ [SEMI_SPACE_ENV]: '0' }), null);
    assert.match(youngGeneration({ [SEMI_SPACE_ENV]: '0' }, [], null).note, /FLEETWARDEN_SEMI_SPACE_MB=0: V8's own young generation/);
  });

  it("is left alone when node already has the option (its arguments, as after the restart, or NODE_OPTIONS), and says so", () => {
    assert.equal(restartWith({}, ['--max-semi-space-size=4']), null, 'the restarted process does not restart again');
    assert.equal(restartWith({ [SEMI_SPACE_ENV]: '8' }, ['--max_semi_space_size=2']), null);
    assert.equal(restartWith({ NODE_OPTIONS: '--trace-warnings  --max-semi-space-size=32' }), null);
    assert.match(youngGeneration({ NODE_OPTIONS: '--max-semi-space-size=32' }, [], null).note, /^node runs with --max-semi-space-size=32$/);
    // NODE_OPTIONS as node reads it: double quotes removed, a backslash in them keeping the next character.
    assert.equal(restartWith({ NODE_OPTIONS: '--trace-warnings "--max-semi-space-size=16"' }), null);
    assert.equal(restartWith({ NODE_OPTIONS: '--max-semi-space-"size=16"' }), null);
    assert.deepEqual(splitNodeOptions('  --a "--title=b c"  --d="e \\" f" "" --g'), ['--a', '--title=b c', '--d=e " f', '--g']);
    assert.deepEqual(splitNodeOptions(''), []);
    // Options that only start like it are others.
    assert.equal(restartWith({ NODE_OPTIONS: '--max-semi-space-sizes=1' }, ['--max-semi-space-size-x=1']), `--max-semi-space-size=${CONTROLLER_SEMI_SPACE_MB}`);
  });

  it('where the process cannot restart, restarts nothing, keeps the young generation near the size by the growth factor, and says why and what sets it exactly', () => {
    const r = youngGeneration({ [SEMI_SPACE_ENV]: '6' }, [], 'node v20.0.0 has no process.execve: Node 22.15 or later has');
    assert.equal(r.restartWith, null);
    assert.equal(r.capMiB, 6);
    assert.equal(r.note, "young generation kept near 6 MiB semi-spaces by V8's growth factor: cannot restart node with --max-semi-space-size=6 (node v20.0.0 has no process.execve: Node 22.15 or later has); NODE_OPTIONS=--max-semi-space-size=6 sets it exactly");
    assert.equal(youngGeneration({}, [], 'not on Windows').capMiB, CONTROLLER_SEMI_SPACE_MB);
    // Not where node restarts with it, has it, or is told to leave V8's own.
    assert.equal(youngGeneration({}, [], null).capMiB, null);
    assert.equal(youngGeneration({}, ['--max-semi-space-size=4'], 'not on Windows').capMiB, null);
    assert.equal(youngGeneration({ NODE_OPTIONS: '--max-semi-space-size=2' }, [], 'not on Windows').capMiB, null);
    assert.equal(youngGeneration({ [SEMI_SPACE_ENV]: '0' }, [], 'not on Windows').capMiB, null);
    // Nor where node was given its own growth factor (what the cap would change).
    const own = youngGeneration({ NODE_OPTIONS: '--semi-space-growth-factor=3' }, [], 'not on Windows');
    assert.deepEqual([own.capMiB, own.restartWith], [null, null]);
    assert.match(own.note, /^node runs with --semi-space-growth-factor=3: V8's own young generation with it/);
    assert.equal(youngGeneration({}, ['--semi_space_growth_factor=4'], 'not on Windows').capMiB, null);
    assert.equal(youngGeneration({ NODE_OPTIONS: '--semi-space-growth-factor=3' }, [], null).restartWith, '--max-semi-space-size=4', 'a restart is still made where it can be');
  });

  it('refuses a value that is not a whole number of MiB from 0 to 1024, naming the variable', () => {
    for (const bad of ['-1', '4M', 'small', '1025', '2.5', '0x8', '+4', '4 4']) {
      assert.throws(() => youngGeneration({ [SEMI_SPACE_ENV]: bad }, ['--max-semi-space-size=4'], null), (err: unknown) => err instanceof ValidationError && err.field === SEMI_SPACE_ENV && err.message.includes(JSON.stringify(bad)), bad);
    }
  });
});

describe('the restart at the entry point (src/app/heap.ts startYoungGeneration)', () => {
  /** A restart that records its option and, as process.execve would not, comes back (by throwing a marker). */
  class Restarted extends Error {}
  const recording = (into: string[]) => (option: string): never => {
    into.push(option);
    throw new Restarted(option);
  };

  it('restarts with the option youngGeneration decided, and with nothing when none is needed', () => {
    const asked: string[] = [];
    assert.match(startYoungGeneration({ [SEMI_SPACE_ENV]: '6' }, [], recording(asked)), /could not restart node with --max-semi-space-size=6/);
    assert.deepEqual(asked, ['--max-semi-space-size=6']);
    assert.equal(startYoungGeneration({}, ['--max-semi-space-size=4'], recording(asked)), 'node runs with --max-semi-space-size=4');
    assert.equal(startYoungGeneration({ [SEMI_SPACE_ENV]: '0' }, [], recording(asked)), "FLEETWARDEN_SEMI_SPACE_MB=0: V8's own young generation");
    assert.deepEqual(asked, ['--max-semi-space-size=6'], 'asked once');
  });

  it('says why where it cannot restart, and what went wrong where the restart was refused', () => {
    assert.equal(startYoungGeneration({}, [], 'not on Windows'), "young generation kept near 4 MiB semi-spaces by V8's growth factor: cannot restart node with --max-semi-space-size=4 (not on Windows); NODE_OPTIONS=--max-semi-space-size=4 sets it exactly");
    const refused = (): never => {
      throw new Error('Access to this API has been restricted');
    };
    assert.equal(startYoungGeneration({}, [], refused), "young generation kept near 4 MiB semi-spaces by V8's growth factor: could not restart node with --max-semi-space-size=4 (Access to this API has been restricted)");
    assert.throws(() => startYoungGeneration({ [SEMI_SPACE_ENV]: 'big' }, [], refused), (err: unknown) => err instanceof ValidationError && err.field === SEMI_SPACE_ENV);
  });
});
