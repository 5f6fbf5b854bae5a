import type { Kysely } from 'kysely';

/**
 * What a person decided about an entry `audit` listed (`audit resolve`): accepted as it is, or
 * reversed by a `correction` entry. One row per entry of a ledger (the primary key), so that two
 * people resolving the same entry at once leave one resolution and at most one correction.
 * `ledger` is `credit_ledger` or the mapped app table; `entry_id` is what `audit --json` prints.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_audit_resolutions')
    .addColumn('ledger', 'text', (c) => c.notNull())
    .addColumn('entry_id', 'text', (c) => c.notNull())
    .addColumn('payment_ref', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('credits', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('correction_id', 'integer')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('stripe_credits_audit_resolutions_pk', ['ledger', 'entry_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_audit_resolutions').execute();
}
