/** `npm run bench`: runs every benchmark in bench/ and prints its figures and ratios. */
import { benchSchedule } from './schedule.js';

const only = process.argv[2];
const BENCHES: Record<string, () => void> = { schedule: benchSchedule };

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
for (const [name, run] of Object.entries(BENCHES)) {
  if (only === undefined || only === name) run();
}
