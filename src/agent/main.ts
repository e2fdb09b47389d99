#!/usr/bin/env node
/** Entry point of the single-file agent (`npm run build:agent` → dist/fleetwarden-agent.mjs): needs only Node. */
import { realpathSync } from 'node:fs';
import { runAgent } from './cli.js';

const script = process.argv[1] === undefined ? [] : [realpathSync(process.argv[1])];
process.exitCode = await runAgent(
  process.argv.slice(2),
  { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) },
  [process.execPath, ...script],
);
