import { CompiledQuery, sql, type Compilable } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { OpenDb } from '../../src/ledger/db.js';
import { findCredited, purchasesQuery } from '../../src/ledger/ledger.js';
import {
  existingTables,
  ledgerEntriesForPayment,
  paymentRecordFor,
  paymentRecordQuery,
  sessionKeys,
} from '../../src/ledger/corrections.js';
import { checkout } from '../reconcile/builders.js';
import { engines, type AppDb } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/**
 * Migrations 0007 and 0008: the Checkout Session indexes of the record and of the ledger hold only
 * what cannot be found by payment key (a record the tool did not credit; an entry keyed by neither
 * its session nor its PaymentIntent). Queries that have the payment key stay exact and indexed; a
 * command with only a session id reads the payment keys from the tables whole (sessionKeys).
 */
for (const engine of engines()) {
  describe(`Checkout Session ids in the ledger and the record (${engine})`, () => {
    const ledger = engineLedger(engine, [{ id: 1, email: 'a@example.com', name: 'A' }]);
    let app: AppDb;
    let open: OpenDb;

    async function setup() {
      ({ app, open } = await ledger.start());
      const at = '2026-11-01T00:00:00.000Z';
      const record = (key: string, session: string | null, status: string) =>
        app.exec(
          `INSERT INTO stripe_credits_payments (payment_key, checkout_session_id, payment_intent_id, emails, user_id, status, livemode, paid_at, first_seen_at, last_seen_at) VALUES (?, ?, ?, '[]', '1', ?, 0, ?, ?, ?)`,
          key,
          session,
          key.startsWith('pi_') ? key : null,
          status,
          at,
          at,
          at,
        );
      const purchase = (key: string, session: string | null, intent: string | null) =>
        app.exec(
          `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, livemode, actor, created_at) VALUES ('1', 5, 'purchase', ?, ?, ?, 0, 'test', ?)`,
          key,
          session,
          intent,
          at,
        );
      await record('pi_credited', 'cs_test_credited', 'credited');
      await purchase('pi_credited', 'cs_test_credited', 'pi_credited');
      await record('pi_before', 'cs_test_before', 'already_credited');
      await purchase('pi_before', 'cs_test_before', 'pi_before');
      await record('pi_review', 'cs_test_review', 'needs_review');
      await record('pi_pending', 'cs_test_pending', 'pending');
      await record('cs_test_free', 'cs_test_free', 'credited');
      await purchase('cs_test_free', 'cs_test_free', null);
      // Written by other means: keyed by neither its session nor its PaymentIntent.
      await purchase('legacy-7', 'cs_test_legacy', 'pi_legacy');
    }

    it('finds every record and entry by session id once the payment key is known, and those not keyed by it from the session alone', async () => {
      await setup();
      const tables = await existingTables(open.db);
      for (const [session, key] of [
        ['cs_test_credited', 'pi_credited'],
        ['cs_test_before', 'pi_before'],
        ['cs_test_review', 'pi_review'],
        ['cs_test_pending', 'pi_pending'],
        ['cs_test_free', 'cs_test_free'],
      ] as const) {
        const ids = [session, ...(await sessionKeys(open.db, [session], tables))];
        expect(ids, session).toContain(key);
        expect((await paymentRecordFor(open.db, ids))?.payment_key, session).toBe(key);
      }
      // From the session id alone, through the partial indexes: a record the tool did not credit, an entry keyed by neither id.
      expect((await paymentRecordFor(open.db, ['cs_test_review']))?.payment_key).toBe('pi_review');
      expect((await ledgerEntriesForPayment(open.db, ['cs_test_legacy'])).map((e) => e.payment_key)).toEqual([
        'legacy-7',
      ]);
      expect(
        (await ledgerEntriesForPayment(open.db, ['cs_test_credited', 'pi_credited'])).map((e) => e.payment_key),
      ).toEqual(['pi_credited']);
      expect(await paymentRecordFor(open.db, ['cs_test_nowhere'])).toBeUndefined();
    });

    it('a reconcile finds every credited payment by what Stripe says of it, the entry keyed by neither id included', async () => {
      await setup();
      const payments = [
        checkout({ id: 'cs_test_credited', paymentIntentId: 'pi_credited' }),
        checkout({ id: 'cs_test_legacy', paymentIntentId: 'pi_legacy' }),
        checkout({ id: 'cs_test_free' }, null),
        checkout({ id: 'cs_test_new', paymentIntentId: 'pi_new' }),
      ];
      const found = await findCredited(open.db, payments);
      expect([...found].filter((x) => x.startsWith('cs_')).sort()).toEqual([
        'cs_test_credited',
        'cs_test_free',
        'cs_test_legacy',
      ]);
    });

    it('the session indexes hold only what the payment key cannot find, and the queries a run makes use them, not a scan', async () => {
      await setup();
      const count = async (q: string) => Number((await app.query<{ n: number | string }>(q))[0]!.n);
      expect(
        await count(
          `SELECT count(*) AS n FROM stripe_credits_payments WHERE checkout_session_id IS NOT NULL AND status NOT IN ('credited', 'already_credited')`,
        ),
      ).toBe(2);
      expect(
        await count(
          `SELECT count(*) AS n FROM credit_ledger WHERE checkout_session_id IS NOT NULL AND (payment_key IS NULL OR (checkout_session_id <> payment_key AND (payment_intent_id IS NULL OR payment_intent_id <> payment_key)))`,
        ),
      ).toBe(1);
      // Enough rows that a planner prefers the indexes it can use to reading a whole table or index.
      const series = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)';
      await app.exec(
        `${series} INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, livemode, actor, created_at) SELECT '1', 1, 'purchase', 'pi_x' || i, 'cs_test_x' || i, 'pi_x' || i, 0, 'test', 'now' FROM n`,
      );
      await app.exec(
        `${series} INSERT INTO stripe_credits_payments (payment_key, checkout_session_id, payment_intent_id, emails, status, livemode, paid_at, first_seen_at, last_seen_at) SELECT 'pi_x' || i, 'cs_test_x' || i, 'pi_x' || i, '[]', 'credited', 0, 'now', 'now', 'now' FROM n`,
      );
      await app.exec('ANALYZE');
      const plans = [
        [await explain(paymentRecordQuery(open.db, ['cs_test_credited', 'pi_credited'])), 'stripe_credits_payments'],
        [
          await explain(purchasesQuery(open.db, ['pi_credited', 'cs_test_credited'], ['cs_test_credited'])),
          'credit_ledger',
        ],
      ] as const;
      for (const [text, table] of plans) {
        expect(text).toContain(`${table}_checkout_session_id`);
        if (engine === 'sqlite') expect(text).not.toMatch(new RegExp(`SCAN ${table}$`, 'm'));
        else expect(text).not.toMatch(new RegExp(`Seq Scan on ${table}`));
      }
    });

    async function explain(query: Compilable<unknown>): Promise<string> {
      const q = query.compile();
      const plan = await open.db.connection().execute(async (c) => {
        if (engine === 'sqlite')
          return (
            await c.executeQuery<{ detail: string }>(
              CompiledQuery.raw(`EXPLAIN QUERY PLAN ${q.sql}`, [...q.parameters]),
            )
          ).rows.map((r) => r.detail);
        // Tiny tables: the planner scans them unless told not to; what is asked is whether the indexes serve.
        await sql`SET enable_seqscan = off`.execute(c);
        try {
          return (
            await c.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${q.sql}`, [...q.parameters]))
          ).rows.map((r) => r['QUERY PLAN']);
        } finally {
          await sql`RESET enable_seqscan`.execute(c);
        }
      });
      return plan.join('\n');
    }
  });
}
