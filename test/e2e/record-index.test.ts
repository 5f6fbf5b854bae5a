import { CompiledQuery, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../../src/ledger/db.js';
import { paymentRecordFor, paymentRecordQuery } from '../../src/ledger/support.js';
import { tempDir } from '../helpers/cli.js';
import { createAppDb, engines, type AppDb } from '../helpers/engines.js';

/**
 * Migration 0007: the record's Checkout Session index holds only payments no purchase entry of the
 * tool's stands for; the record of a credited payment is found by its session through the ledger.
 */
for (const engine of engines()) {
  describe(`the local record found by Checkout Session id (${engine})`, () => {
    let app: AppDb;
    let open: OpenDb;
    let cleanup = () => {};
    afterEach(async () => {
      await open?.close();
      await app?.close();
      cleanup();
    });

    async function setup() {
      const t = tempDir();
      cleanup = t.cleanup;
      app = await createAppDb(engine, t.dir, [{ id: 1, email: 'a@example.com', name: 'A' }]);
      open = await openDatabase(parseDbUrl(app.url, t.dir), { readonly: false });
      await migrateToLatest(open.db);
      const at = '2026-11-01T00:00:00.000Z';
      const record = (key: string, session: string | null, status: string) =>
        app.exec(
          `INSERT INTO stripe_credits_payments (payment_key, checkout_session_id, payment_intent_id, emails, user_id, status, livemode, paid_at, first_seen_at, last_seen_at) VALUES (?, ?, ?, '[]', '1', ?, 0, ?, ?, ?)`,
          key, session, key.startsWith('pi_') ? key : null, status, at, at, at,
        );
      const purchase = (key: string, session: string | null) =>
        app.exec(
          `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, livemode, actor, created_at) VALUES ('1', 5, 'purchase', ?, ?, ?, 0, 'test', ?)`,
          key, session, key, at,
        );
      await record('pi_credited', 'cs_test_credited', 'credited');
      await purchase('pi_credited', 'cs_test_credited');
      await record('pi_before', 'cs_test_before', 'already_credited');
      await purchase('pi_before', 'cs_test_before');
      await record('pi_review', 'cs_test_review', 'needs_review');
      await record('pi_pending', 'cs_test_pending', 'pending');
      await record('cs_test_free', 'cs_test_free', 'skipped');
      await record('pi_other', 'cs_test_other', 'credited');
      await purchase('pi_other', 'cs_test_other');
    }

    it('finds every record by its session id, whatever its status, and no other', async () => {
      await setup();
      for (const [session, key] of [
        ['cs_test_credited', 'pi_credited'],
        ['cs_test_before', 'pi_before'],
        ['cs_test_review', 'pi_review'],
        ['cs_test_pending', 'pi_pending'],
        ['cs_test_free', 'cs_test_free'],
      ]) {
        expect((await paymentRecordFor(open.db, [session!]))?.payment_key, session).toBe(key);
      }
      expect((await paymentRecordFor(open.db, ['pi_review']))?.payment_key).toBe('pi_review');
      expect(await paymentRecordFor(open.db, ['cs_test_nowhere'])).toBeUndefined();
    });

    it('the session index holds only payments not credited by the tool, and the lookup uses indexes, not a scan', async () => {
      await setup();
      const indexed = await sql<{ n: number | string }>`SELECT count(*) AS n FROM stripe_credits_payments WHERE checkout_session_id IS NOT NULL AND status NOT IN ('credited', 'already_credited')`.execute(open.db);
      expect(Number(indexed.rows[0]!.n)).toBe(3);
      const q = (await paymentRecordQuery(open.db, ['cs_test_credited'])).compile();
      const plan = await open.db.connection().execute(async (c) => {
        if (engine === 'sqlite') return (await c.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${q.sql}`, [...q.parameters]))).rows.map((r) => r.detail);
        // Tiny tables: the planner scans them unless told not to; what is asked is whether the indexes serve.
        await sql`SET enable_seqscan = off`.execute(c);
        try {
          return (await c.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${q.sql}`, [...q.parameters]))).rows.map((r) => r['QUERY PLAN']);
        } finally {
          await sql`RESET enable_seqscan`.execute(c);
        }
      });
      const text = plan.join('\n');
      expect(text).toContain('stripe_credits_payments_checkout_session_id');
      if (engine === 'sqlite') expect(text).not.toMatch(/SCAN stripe_credits_payments$/m);
      else expect(text).not.toMatch(/Seq Scan on stripe_credits_payments/);
    });
  });
}
