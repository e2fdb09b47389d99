/** One size of the controller's tick benchmark in its own process (bench/controller.ts): prints its figures as JSON. */
import { processRestart, startYoungGeneration, tuneControllerHeap, youngGeneration } from '../src/app/heap.js';
import { capYoungGeneration } from '../src/app/young-cap.js';
import { measureTicks } from './controller.js';

const instances = Number(process.argv[2]);
if (!Number.isInteger(instances) || instances <= 0) {
  process.stderr.write('usage: tick-child.js INSTANCES [--v8-default-heap]\n');
  process.exit(2);
}
// The heap as `fleetwarden run` sets it (this process stands for a running controller; the young generation by a
// restart in place where node can), as the parent sets it (bench/controller.ts inChild); or V8's own defaults.
let young = "V8's own young generation";
if (process.argv[3] !== '--v8-default-heap') {
  young = startYoungGeneration(process.env, process.execArgv, processRestart()); // returns where it does not restart
  tuneControllerHeap({});
  // Where node was not restarted with it: kept at the size by the growth factor, as run does.
  const capMiB = youngGeneration(process.env, process.execArgv, 'not restarted').capMiB;
  if (capMiB !== null) capYoungGeneration(capMiB);
}
console.log(JSON.stringify({ ...(await measureTicks(instances)), young }));
