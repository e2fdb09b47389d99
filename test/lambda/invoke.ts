/**
 * Runs a bundled Lambda handler as Lambda would, in this process: `node invoke.js <bundle.mjs> <event JSON>
 * <remaining ms>`. The context's remaining time counts down from the given budget. Prints `RESULT <json>` or
 * `ERROR <message>` (exit 1), nothing else of its own.
 */
import { pathToFileURL } from 'node:url';

const [bundle = '', eventJson = '{}', budget = '60000'] = process.argv.slice(2);
const deadline = Date.now() + Number(budget);
const mod = (await import(pathToFileURL(bundle).href)) as { handler: (event: unknown, context: unknown) => Promise<unknown> };
try {
  const result = await mod.handler(JSON.parse(eventJson), { awsRequestId: 'test-request', functionName: 'test', getRemainingTimeInMillis: () => deadline - Date.now() });
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (err) {
  process.stdout.write(`ERROR ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
  process.exit(1);
}
