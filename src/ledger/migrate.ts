import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001-initial.js';
import * as m0002 from './migrations/0002-payments.js';
import * as m0003 from './migrations/0003-support.js';
import * as m0004 from './migrations/0004-cron.js';
import * as m0005 from './migrations/0005-baseline.js';
import * as m0006 from './migrations/0006-fewer-indexes.js';
import * as m0007 from './migrations/0007-record-session-index.js';
import * as m0008 from './migrations/0008-ledger-session-index.js';
import * as m0009 from './migrations/0009-ledger-matched-by.js';
import * as m0010 from './migrations/0010-review-detail.js';
import * as m0011 from './migrations/0011-review-reversals.js';
import * as m0012 from './migrations/0012-audit-resolutions.js';
import * as m0013 from './migrations/0013-record-snapshot.js';
import * as m0014 from './migrations/0014-console-accounts.js';

/** The tool's migrations, and the Migrator both engines run them with (each in its own way: Engine.migrate). */

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-payments': m0002,
  '0003-support': m0003,
  '0004-cron': m0004,
  '0005-baseline': m0005,
  '0006-fewer-indexes': m0006,
  '0007-record-session-index': m0007,
  '0008-ledger-session-index': m0008,
  '0009-ledger-matched-by': m0009,
  '0010-review-detail': m0010,
  '0011-review-reversals': m0011,
  '0012-audit-resolutions': m0012,
  '0013-record-snapshot': m0013,
  '0014-console-accounts': m0014,
};

/** The migrations this version of the tool has, oldest first. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

/** The bookkeeping table of the migrations applied. */
export const MIGRATION_TABLE = 'stripe_credits_migration';

class InCodeMigrations implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/**
 * Own migration bookkeeping tables, so the tool never collides with an app that also uses Kysely.
 * On Postgres they are named in the schema the tool's tables go to (current_schema()): Kysely looks
 * for them in every schema otherwise, and would take another schema's for this one's.
 */
export function migrator<DB>(db: Kysely<DB>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: new InCodeMigrations(),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: 'stripe_credits_migration_lock',
    migrationTableSchema: schema,
    // Migrations are independent of each other; a database migrated by a development build between
    // two of them must still take the one numbered before its newest.
    allowUnorderedMigrations: true,
  });
}
