import type { Kysely } from 'kysely';

/**
 * `lookup` and `assign --reassign` read a payment's entries by payment key alone (every kind:
 * the purchase and its reassignments). The unique (kind, payment_key) index starts with kind, so
 * it cannot serve that; this one does.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('credit_ledger_payment_key').on('credit_ledger').column('payment_key').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('credit_ledger_payment_key').execute();
}
