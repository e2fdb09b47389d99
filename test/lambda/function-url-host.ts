/**
 * Serves a bundled function URL handler (dist/lambda/api.mjs, staged as the stack stages it) in a process of its own,
 * behind the emulated function URL of test/api/transports.ts: `node function-url-host.js <bundle.mjs> [KEY CERT]`
 * (HTTPS with a key and certificate). Prints `LISTENING <base URL>` once it serves; the handler itself opens the table and the configuration from its
 * environment and its directory, as on Lambda.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { FunctionUrlEvent, FunctionUrlResult } from '../../src/api/function-url.js';
import { emulateFunctionUrl } from '../api/transports.js';

const [bundle = '', key, cert] = process.argv.slice(2);
const mod = (await import(pathToFileURL(bundle).href)) as { handler: (event: FunctionUrlEvent) => Promise<FunctionUrlResult> };
const { base } = await emulateFunctionUrl(mod.handler, key === undefined || cert === undefined ? undefined : { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') });
process.stdout.write(`LISTENING ${base}\n`);
