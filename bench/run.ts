/** `npm run bench`: runs every benchmark in bench/ and prints its figures and ratios. */
import { benchAgent } from './agent.js';
import { benchAws } from './aws.js';
import { benchController } from './controller.js';
import { benchRolling } from './rolling.js';
import { benchScale } from './scale.js';
import { benchSchedule } from './schedule.js';

const only = process.argv[2];
const BENCHES: Record<string, () => void | Promise<void>> = { schedule: benchSchedule, controller: benchController, aws: benchAws, agent: benchAgent, rolling: benchRolling, scale: benchScale };

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
for (const [name, run] of Object.entries(BENCHES)) {
  if (only === undefined || only === name) await run();
}
