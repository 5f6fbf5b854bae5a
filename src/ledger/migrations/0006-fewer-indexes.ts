import { sql, type Kysely } from 'kysely';

/**
 * Writing a payment costs a B-tree insert per index, at a random place (Stripe ids are random), and
 * every page an insert touches is written twice per transaction (journal and file). Two indexes
 * per table did nothing another index could not:
 * - credit_ledger: the unique index is now (payment_key, kind), still unique over the same pair
 *   (the exactly-once constraint, `ON CONFLICT (kind, payment_key)` names it as before), and since
 *   it starts with payment_key it also serves the lookups by payment key alone, for which 0003 had
 *   added an index of its own;
 * - credit_ledger and stripe_credits_payments: the tool writes a payment's PaymentIntent id as its
 *   payment key, so the payment_intent_id index only needs the rows where the two differ (written
 *   by others); queries by PaymentIntent id ask for the payment key too, and for these rows (see
 *   intentNotKey in corrections.ts).
 * Both engines take partial indexes with the same syntax.
 */
export const INTENT_NOT_KEY =
  'payment_intent_id IS NOT NULL AND (payment_key IS NULL OR payment_intent_id <> payment_key)';

export async function up(db: Kysely<any>): Promise<void> {
  // The new unique index first: the pair is never without one.
  await db.schema
    .createIndex('credit_ledger_payment_key_kind')
    .unique()
    .on('credit_ledger')
    .columns(['payment_key', 'kind'])
    .execute();
  await db.schema.dropIndex('credit_ledger_kind_payment_key').execute();
  await db.schema.dropIndex('credit_ledger_payment_key').execute();
  for (const table of ['credit_ledger', 'stripe_credits_payments']) {
    await db.schema.dropIndex(`${table}_payment_intent_id`).execute();
    await sql`CREATE INDEX ${sql.id(`${table}_payment_intent_id`)} ON ${sql.table(table)} (payment_intent_id) WHERE ${sql.raw(INTENT_NOT_KEY)}`.execute(
      db,
    );
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['credit_ledger', 'stripe_credits_payments']) {
    await db.schema.dropIndex(`${table}_payment_intent_id`).execute();
    await db.schema.createIndex(`${table}_payment_intent_id`).on(table).column('payment_intent_id').execute();
  }
  await db.schema
    .createIndex('credit_ledger_kind_payment_key')
    .unique()
    .on('credit_ledger')
    .columns(['kind', 'payment_key'])
    .execute();
  await db.schema.createIndex('credit_ledger_payment_key').on('credit_ledger').column('payment_key').execute();
  await db.schema.dropIndex('credit_ledger_payment_key_kind').execute();
}
