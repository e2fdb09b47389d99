// Runs the compiled test suite with Node's own runner: every `*.test.js` under dist/test (or under the paths given).
// Why a script and not `node --test dist/test/`: Node 20 searches a directory given to --test, Node 21+ takes only
// files or glob patterns (a directory there is one failed test, "Cannot find module"), and Node 20 does not expand
// globs. Listing the files here works unchanged on Node 20, 22 and 24. The tests run on the Node that runs this.
//   node scripts/test.mjs                          the whole suite
//   node scripts/test.mjs dist/test/agent          the test files under a folder (or single files)
//   node scripts/test.mjs --test-name-pattern=drain   any other argument goes to `node --test`
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

/** Every `*.test.js` at or under `path`, in a stable order. */
function testFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? testFiles(join(path, e.name)) : e.name.endsWith('.test.js') ? [join(path, e.name)] : []));
}

const args = process.argv.slice(2);
const roots = args.filter((a) => !a.startsWith('-') && existsSync(a));
const options = args.filter((a) => !roots.includes(a));
const missing = roots.length === 0 && !existsSync('dist/test');
const files = missing ? [] : (roots.length > 0 ? roots : ['dist/test']).flatMap(testFiles);
if (files.length === 0) {
  process.stderr.write(`no test files under ${roots.length > 0 ? roots.join(', ') : 'dist/test'}: run \`npm run build\` first\n`);
  process.exit(2);
}
const reporter = options.some((o) => o.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec'];
const run = spawnSync(process.execPath, ['--test', ...reporter, ...options, ...files], { stdio: 'inherit' });
process.exit(run.status ?? 1);
