/**
 * The layer rule of docs/architecture.md is a lint rule (eslint/layers.js, map in eslint.config.js).
 * These cases lint a file that does not exist at a path inside a layer, with the repository's own
 * configuration, so a change to the map or the rule that lets a forbidden import through fails here.
 */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const eslint = new ESLint({ cwd: ROOT });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'layers/layers').map((m) => m.message);
}

describe('the layer rule', () => {
  it.each([
    ['src/reconcile/x.ts', "import { openDatabase } from '../ledger/db.js';", "'core' may not import layer 'ledger'"],
    [
      'src/reconcile/x.ts',
      "export { fetchPayments } from '../stripe/reader.js';",
      "'core' may not import layer 'stripe'",
    ],
    [
      'src/cli/commands/x.ts',
      "import { openDatabase } from '../../ledger/db.js';",
      "'cli' may not import layer 'ledger'",
    ],
    ['src/stripe/x.ts', "import type { OpenDb } from '../ledger/db.js';", "'stripe' may not import layer 'ledger'"],
    ['src/ledger/x.ts', "const m = await import('../app/reconcile.js');", "'ledger' may not import layer 'app'"],
    ['src/stripe/x.ts', "import { IdTable } from '../plan/id-table.js';", "'stripe' may not import layer 'plan'"],
    ['src/config.ts', "import { reconcile } from './app/reconcile.js';", "'shared' may not import layer 'app'"],
    ['src/index.ts', "import { jsonItem } from './cli/output.js';", "'entry' may not import layer 'cli'"],
  ])('refuses %s: %s', async (file, code, message) => {
    const errors = await layerErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it.each([
    ['src/app/x.ts', "import { openDatabase } from '../ledger/db.js';"],
    ['src/ledger/migrations/x.ts', "import { withAutoId } from '../engine.js';"],
    ['src/cli/commands/x.ts', "import { reconcile } from '../../app/reconcile.js';"],
    ['src/stripe/x.ts', "import type { Payment } from '../reconcile/types.js';"],
    ['src/simulator/x.ts', "import { UsageError } from '../errors.js';"],
    ['src/cli/x.ts', "import { Command } from 'commander';"],
  ])('lets %s: %s through', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });
});
