// Bundle shared.js into build/shared.js, a classic script for the test page (spec 8.1 lists
// the names; page/plutono.js registers them). Run by `make browser` (outside pytest's per-test
// timeout); the output is ignored by git.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: [join(here, 'shared.js')],
  outfile: join(here, 'build', 'shared.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'chrome100',
  // React's development build: its warnings (missing keys, bad props) reach the console,
  // where the tests look for errors.
  define: { 'process.env.NODE_ENV': '"development"', global: 'window' },
  // Node built-ins that the packages' Node-only paths (SystemJS's file loader, chalk) import.
  alias: Object.fromEntries(
    ['fs', 'stream', 'tty', 'util', 'os', 'crypto', 'path'].map((name) => [name, join(here, 'empty.js')])
  ),
  loader: { '.css': 'empty', '.svg': 'empty', '.woff': 'empty', '.woff2': 'empty' },
  inject: [join(here, 'process.js')],
  logLevel: 'warning',
});
