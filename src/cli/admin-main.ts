// `cachestore admin` on its own, until the `cachestore` CLI mounts it: node dist/cli/admin-main.js
// (or npx tsx src/cli/admin-main.ts) accounts create acme.
import { runAdmin } from './admin.js';

process.exitCode = await runAdmin(process.argv.slice(2));
