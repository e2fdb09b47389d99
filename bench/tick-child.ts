/** One size of the controller's tick benchmark in its own process (bench/controller.ts): prints its figures as JSON. */
import { tuneControllerHeap } from '../src/app/heap.js';
import { measureTicks } from './controller.js';

const instances = Number(process.argv[2]);
if (!Number.isInteger(instances) || instances <= 0) {
  process.stderr.write('usage: tick-child.js INSTANCES [--v8-default-heap]\n');
  process.exit(2);
}
// The heap as `fleetwarden run` sets it (this process stands for a running controller), or V8's own defaults.
if (process.argv[3] !== '--v8-default-heap') tuneControllerHeap({}); // run's default, whatever this shell sets
console.log(JSON.stringify(await measureTicks(instances)));
