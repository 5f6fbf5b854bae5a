import { appliedMigrations, MIGRATION_NAMES, type OpenDb } from '../../ledger/db.js';
import { ownSchemaTables } from '../../ledger/engine.js';
import type { Checkup, Findings } from './findings.js';

/** Which database this is, and whether the tool's tables are at this version's latest migration. */
export async function checkDatabase(open: OpenDb, c: Checkup): Promise<void> {
  c.f.ok('database', await c.ix.describeDatabase(c.db, open.location.label));
  const applied = (await ownSchemaTables(c.db)).has('credit_ledger') ? await appliedMigrations(c.db) : null;
  const pending = migrationsFinding(applied, c.f);
  if (pending > 0) await createFinding(c);
}

/** The migrations finding; returns how many migrations are still to apply. */
function migrationsFinding(applied: string[] | null, f: Findings): number {
  const pending = applied === null ? [...MIGRATION_NAMES] : MIGRATION_NAMES.filter((n) => !applied.includes(n));
  const unknown = applied === null ? [] : applied.filter((n) => !MIGRATION_NAMES.includes(n));
  if (applied === null) {
    f.warn(
      'migrations',
      "the tool's tables are not created yet",
      'run stripe-credits migrate (the first apply run migrates too); a dry run works without them',
    );
  } else if (pending.length > 0) {
    f.warn(
      'migrations',
      `${pending.length} of ${MIGRATION_NAMES.length} migrations are not applied yet (${pending.join(', ')})`,
      'run stripe-credits migrate (the next apply run migrates too); a dry run works meanwhile',
    );
  } else if (unknown.length > 0) {
    f.warn(
      'migrations',
      `the database has migrations this version does not know (${unknown.join(', ')}): a newer stripe-credits migrated it`,
      'upgrade stripe-credits to the version that migrated it',
    );
  } else {
    f.ok(
      'migrations',
      `the tool's tables are at the latest migration (${MIGRATION_NAMES[MIGRATION_NAMES.length - 1]})`,
    );
  }
  return pending.length;
}

/** Migrations still to apply need the right to create tables where the tool keeps its own. */
async function createFinding(c: Checkup): Promise<void> {
  const lack = await c.ix.lacksCreate(c.db);
  if (!lack) return;
  c.f.fail(
    'migrations',
    `the database user ${lack.user} may not create tables in schema ${lack.schema}: migrate would fail`,
    `GRANT CREATE ON SCHEMA ${c.q.id(lack.schema)} TO ${c.q.id(lack.user)}`,
  );
}
