/** The figures `simulate` reports beyond starts and stops: windows, tasks, and instances out of service at once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load.js';
import { simulate } from '../../src/app/simulate.js';

const config = (concurrency: number): string => `provider: simulator
controller: { tickInterval: 15s }
simulator:
  start: "2026-06-01T00:00:00Z"
  groups:
    web: { instances: 4, running: true }
groups:
  - name: web
    fleets: { main: { desired: 4 } }
    maintenance:
      windows:
        - name: FW-web-nightly
          schedule: cron(0 2 * * ? *)
          durationHours: 1
          tasks:
            - { name: restart, command: "systemctl restart app", drain: true, maxConcurrency: ${concurrency} }
`;

describe('simulate report', () => {
  for (const concurrency of [1, 2]) {
    it(`a rolling drain task at concurrency ${concurrency}: every instance's task runs, at most ${concurrency} out of service at once, no stop in the window`, async () => {
      const r = await simulate(parseConfigText(config(concurrency)), Date.parse('2026-06-01T01:00:00Z'), Date.parse('2026-06-01T04:00:00Z'), () => undefined);
      assert.equal(r.windowsEntered, 1);
      assert.deepEqual(r.tasks, { run: 4, succeeded: 4, failed: 0 });
      assert.equal(r.maxOutOfService, concurrency, 'taken out of service by the task, never more than its concurrency');
      assert.equal(r.stops, 0);
      assert.equal(r.stopsInWindow, 0);
    });
  }
});
