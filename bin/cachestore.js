#!/usr/bin/env node
// The `cachestore` command (package.json "bin"; `npx cachestore …` from the checkout). It runs
// the compiled CLI when `npm run build` has made one (fast start), else the TypeScript source
// through tsx (a checkout without a build step). CACHESTORE_CLI_FROM_SOURCE=1 forces the source,
// e.g. to run edited code without building again.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/cli/main.js`;
let main;
if (existsSync(built) && process.env.CACHESTORE_CLI_FROM_SOURCE !== '1') {
  main = await import(pathToFileURL(built).href);
} else {
  let tsImport;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('error: cachestore is not built and tsx is not installed: run npm run build (or npm install for tsx)\n');
    process.exit(1);
  }
  main = await tsImport(pathToFileURL(`${root}src/cli/main.ts`).href, import.meta.url);
}
process.exitCode = await main.run(process.argv.slice(2));
