#!/usr/bin/env node
/**
 * Entry point of the single-file agent (`npm run build:agent` → dist/fleetwarden-agent.mjs): needs only Node. Run
 * under the name `cs-instance-watcher` (a copy or a link of that name, or the package's bin) it is the seed's
 * watcher: preset clonesquad and its configuration file. The unit it generates keeps that name (the link, not its
 * target), so the service runs as the watcher too.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { entryOf, runAgent } from './cli.js';

const invoked = process.argv[1];
const entry = entryOf(invoked);
const script = invoked === undefined ? [] : [entry === 'cs-instance-watcher' ? resolve(invoked) : realpathSync(invoked)];
process.exitCode = await runAgent(
  process.argv.slice(2),
  { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) },
  [process.execPath, ...script],
  entry,
);
