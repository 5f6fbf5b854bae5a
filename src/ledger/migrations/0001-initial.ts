import { sql, type Kysely } from 'kysely';
import { withAutoId } from '../engine.js';

/**
 * The ledger, the runs and the review queue. Column types that both SQLite and Postgres take; the
 * auto-numbered ids are the one thing the two engines spell differently (see withAutoId).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await createLedger(db);
  await createRuns(db);
  await createReview(db);
}

async function createLedger(db: Kysely<any>): Promise<void> {
  await withAutoId(db, db.schema.createTable('credit_ledger'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('credits', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payment_key', 'text')
    .addColumn('checkout_session_id', 'text')
    .addColumn('payment_intent_id', 'text')
    .addColumn('amount', 'integer')
    .addColumn('currency', 'text')
    .addColumn('livemode', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('run_id', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // Exactly once: this constraint, not a check in code, keeps a payment from being credited twice.
  await db.schema
    .createIndex('credit_ledger_kind_payment_key')
    .unique()
    .on('credit_ledger')
    .columns(['kind', 'payment_key'])
    .execute();
  await db.schema.createIndex('credit_ledger_user_id').on('credit_ledger').column('user_id').execute();
  await db.schema
    .createIndex('credit_ledger_checkout_session_id')
    .on('credit_ledger')
    .column('checkout_session_id')
    .execute();
  await db.schema
    .createIndex('credit_ledger_payment_intent_id')
    .on('credit_ledger')
    .column('payment_intent_id')
    .execute();
}

async function createRuns(db: Kysely<any>): Promise<void> {
  await withAutoId(db, db.schema.createTable('stripe_credits_runs'))
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('since', 'text', (c) => c.notNull())
    .addColumn('until', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('counts', 'text')
    .addColumn('credits_written', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
}

async function createReview(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stripe_credits_review')
    .addColumn('payment_key', 'text', (c) => c.primaryKey())
    .addColumn('checkout_session_id', 'text')
    .addColumn('payment_intent_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('amount', 'integer')
    .addColumn('currency', 'text')
    .addColumn('livemode', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('paid_at', 'text', (c) => c.notNull())
    .addColumn('emails', 'text', (c) => c.notNull().defaultTo(sql`'[]'`))
    .addColumn('candidate_user_ids', 'text', (c) => c.notNull().defaultTo(sql`'[]'`))
    .addColumn('unknown_ids', 'text', (c) => c.notNull().defaultTo(sql`'[]'`))
    .addColumn('name', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('first_run_id', 'integer')
    .addColumn('last_run_id', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    .execute();
  await db.schema
    .createIndex('stripe_credits_review_status')
    .on('stripe_credits_review')
    .columns(['status', 'paid_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stripe_credits_review').execute();
  await db.schema.dropTable('stripe_credits_runs').execute();
  await db.schema.dropTable('credit_ledger').execute();
}
