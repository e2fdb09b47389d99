#!/usr/bin/env node
/**
 * The program's entry point (the `fleetwarden` executable). Its first job comes before anything else: `run` restarts
 * node in place with a small young generation where it can (src/app/heap.ts), and that must happen before node has
 * set up its standard streams — node leaves a pipe it has set up non-blocking when the process is replaced, for
 * whoever shares it next (a shell's `2>&1 | tee`). Loading `node:util` (and much else the commands use) sets up
 * stderr, so this module imports only what the decision needs, and the command line (program.ts) once it is made.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processRestart, startYoungGeneration } from '../app/heap.js';

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const args = process.argv.slice(2);
  // A bad variable is left for `run` to refuse, naming it.
  let youngGeneration: string | undefined;
  if (args[0] === 'run' && !args.includes('--help') && !args.includes('-h')) {
    try {
      youngGeneration = startYoungGeneration(process.env, process.execArgv, processRestart());
    } catch {
      youngGeneration = undefined;
    }
  }
  const { main } = await import('./program.js');
  const { processIo } = await import('./io.js');
  // A closed pipe (`fleetwarden run | head`) ends the program quietly, as command-line tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  process.exitCode = await main(args, youngGeneration === undefined ? processIo : { ...processIo, youngGeneration });
}
