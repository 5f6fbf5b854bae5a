#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { URL } from 'node:url';
import v8 from 'node:v8';

// V8 lets its heap grow to up to four times what is live before a full collection when collecting
// is cheap against allocating (a reconcile of a large account parses pages and builds write
// statements fast): 385 MB peak RSS for 200,000 payments, with 60 MB live. Growing by a quarter at
// a time keeps the peak near what is live, for a few percent more CPU time (docs/performance.md).
// Set before the program loads.
v8.setFlagsFromString('--heap-growing-percent=25');
// The bundled CLI starts faster (scripts/bundle-cli.js); dist/cli when only tsc has run since.
const bundled = new URL('../dist/bundle/main.js', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const fresh = existsSync(bundled) && (!existsSync(compiled) || statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs);
// A stack trace (--verbose) names the sources, not the bundle.
if (fresh && process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
const { main } = await import(fresh ? bundled.href : compiled.href);

main(process.argv).then((code) => {
  process.exitCode = code;
});
