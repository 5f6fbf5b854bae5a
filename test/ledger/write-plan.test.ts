import { describe, expect, it } from 'vitest';
import { TRANSACTION_BATCH, writePlan } from '../../src/app/plan-writer.js';
import { writeTransaction } from '../../src/ledger/engine.js';
import { insertPurchases, OWN_LEDGER_ONLY, recordDecisions, upsertReview } from '../../src/ledger/ledger.js';
import { CompactPlan } from '../../src/plan/compact-plan.js';
import type { PaymentDecision, PaymentStatus } from '../../src/reconcile/types.js';
import { engines } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

/** Keys that sort in the order of n, as the writer writes (payment key order). */
const key = (n: number) => `pi_${String(n).padStart(5, '0')}`;

function decision(n: number, status: PaymentStatus = 'credited'): PaymentDecision {
  const credited = status === 'credited';
  return {
    paymentKey: key(n),
    checkoutSession: `cs_test_${n}`,
    paymentIntent: key(n),
    amount: 100 * n,
    currency: 'usd',
    userId: credited ? String((n % 3) + 1) : null,
    matchedBy: credited ? 'client_reference_id' : null,
    credits: credited ? (n % 7) + 1 : null,
    status,
    reason: status === 'needs_review' ? 'no_user' : status === 'skipped' ? 'refunded' : null,
    paidAt: 1_790_000_000 + n,
    livemode: false,
    creditRule: credited ? 'metadata' : null,
    unknownIds: [],
    candidateUserIds: [],
    emails: [`u${n}@example.com`],
    customerId: null,
    name: null,
  };
}

/**
 * writePlan rebuilds only the ledger part of a credited decision, inserts without RETURNING on
 * SQLite (undoing to a savepoint when a row was there already), and records what the ledger cannot
 * say. Over several statements and transactions: what was written by someone else between the
 * decision and the write is reported already_credited, everything else is written once.
 */
for (const engine of engines()) {
  describe(`writePlan (${engine})`, () => {
    const setup = engineLedger(engine);

    it('writes a large plan once; purchases written meanwhile, earlier records and open review entries are taken into account', async () => {
      const { app, open } = await setup.start();

      // Two transactions (the second one partial), statements of 1,000.
      const N = TRANSACTION_BATCH + 2000;
      const odd: Record<number, PaymentStatus> = {
        7: 'needs_review',
        8: 'pending',
        9: 'skipped',
        10: 'already_credited',
        6001: 'needs_review',
      };
      const decisions = Array.from({ length: N }, (_, n) => decision(n, odd[n] ?? 'credited'));
      const plan = new CompactPlan();
      // Pushed out of key order: the writer sorts.
      for (const d of [...decisions].reverse()) plan.push(d);

      // Since the decisions: another writer credited three of them (to user 3), in both
      // transactions; a payment once pending has a record; one once in review is still open.
      const others = [1500, TRANSACTION_BATCH + 500, N - 1].map((n) => ({ ...decision(n), userId: '3', credits: 99 }));
      await writeTransaction(open.db, (trx) =>
        insertPurchases(trx, others, { runId: null, actor: 'webhook', reason: null, adoption: OWN_LEDGER_ONLY }),
      );
      await writeTransaction(open.db, async (trx) => {
        await recordDecisions(trx, [decision(2500, 'pending')], null);
        await upsertReview(trx, [decision(7000, 'needs_review')], null);
      });

      const out = await writePlan(open.db, plan, { runId: null, actor: 'test', adoption: OWN_LEDGER_ONLY });

      const credited = decisions.filter(
        (d) => d.status === 'credited' && !others.some((o) => o.paymentKey === d.paymentKey),
      );
      expect(out.creditsWritten).toBe(credited.reduce((s, d) => s + d.credits!, 0));
      expect(out.newInReview.sort()).toEqual([key(7), key(6001)]);
      // The plan: the three written meanwhile are already_credited; every other status as decided.
      const statuses = new Map<string, PaymentStatus>();
      for (const i of plan.indexes()) statuses.set(plan.paymentKey(i), plan.status(i));
      for (const d of decisions) {
        const expected = others.some((o) => o.paymentKey === d.paymentKey) ? 'already_credited' : d.status;
        expect(statuses.get(d.paymentKey), d.paymentKey).toBe(expected);
      }

      // The ledger: one entry per credited payment, each as decided; the other writer's entries kept.
      const ledger = await app.query<{
        payment_key: string;
        user_id: string;
        credits: number;
        actor: string;
        matched_by: string | null;
      }>(
        "SELECT payment_key, user_id, credits, actor, matched_by FROM credit_ledger WHERE kind = 'purchase' ORDER BY payment_key",
      );
      expect(ledger).toHaveLength(credited.length + others.length);
      const byKey = new Map(ledger.map((r) => [r.payment_key, r]));
      for (const d of credited) {
        expect(byKey.get(d.paymentKey)).toMatchObject({
          user_id: d.userId,
          actor: 'test',
          matched_by: 'client_reference_id',
        });
        expect(Number(byKey.get(d.paymentKey)!.credits)).toBe(d.credits);
      }
      for (const o of others) expect(byKey.get(o.paymentKey)).toMatchObject({ user_id: '3', actor: 'webhook' });

      // The record: the payments not credited, and the once-pending one brought up to date.
      const records = await app.query<{ payment_key: string; status: string; user_id: string | null }>(
        'SELECT payment_key, status, user_id FROM stripe_credits_payments ORDER BY payment_key',
      );
      expect(records.map((r) => [r.payment_key, r.status, r.user_id])).toEqual([
        [key(7), 'needs_review', null],
        [key(8), 'pending', null],
        [key(9), 'skipped', null],
        [key(2500), 'credited', decision(2500).userId],
        [key(6001), 'needs_review', null],
      ]);
      // The open review entry of a payment now credited is resolved; the new ones are open.
      const review = await app.query<{ payment_key: string; status: string }>(
        'SELECT payment_key, status FROM stripe_credits_review ORDER BY payment_key',
      );
      expect(review.map((r) => [r.payment_key, r.status])).toEqual([
        [key(7), 'open'],
        [key(6001), 'open'],
        [key(7000), 'resolved'],
      ]);

      // Written again: nothing new, and every credited payment of the plan is now found written.
      const again = await writePlan(open.db, plan, { runId: null, actor: 'test', adoption: OWN_LEDGER_ONLY });
      expect(again.creditsWritten).toBe(0);
      expect(await app.query("SELECT payment_key FROM credit_ledger WHERE kind = 'purchase'")).toHaveLength(
        credited.length + others.length,
      );
    });
  });
}
