import { describe, expect, it } from 'vitest';
import { Planner } from '../../src/app/plan-writer.js';
import { DEFAULT_CONFIG, type AppConfig } from '../../src/config.js';
import { nowIso, recordDecisions, recordedAmong } from '../../src/ledger/ledger.js';
import type { PaymentDecision } from '../../src/reconcile/types.js';
import { checkout } from '../reconcile/builders.js';
import { engines } from '../helpers/engines.js';
import { engineLedger } from '../helpers/ledger.js';

const config: AppConfig = {
  ...DEFAULT_CONFIG,
  credits: { ...DEFAULT_CONFIG.credits, unitAmountPerCredit: { usd: 100 } },
};

/** A paid Checkout payment of user `user`, keyed by its PaymentIntent. */
function payment(id: string, user: string) {
  return checkout(
    { id: `cs_test_a1${id}`, clientReferenceId: user, amountTotal: 500 },
    { id: `pi_3${id}`, amount: 500 },
  );
}

function pending(key: string): PaymentDecision {
  return {
    paymentKey: key,
    checkoutSession: null,
    paymentIntent: key,
    amount: 500,
    currency: 'usd',
    userId: null,
    matchedBy: null,
    credits: null,
    status: 'pending',
    reason: null,
    paidAt: 1_790_000_000,
    livemode: false,
    creditRule: null,
    unknownIds: [],
    candidateUserIds: [],
    emails: [],
    customerId: null,
    name: null,
  };
}

/**
 * The shortcuts a large run takes must find what the full lookups find: the Planner skips the
 * ledger's lists while the ledger holds nothing they could find (asked again for every batch), and
 * the writer asks the local record once per transaction (one range of keys on SQLite).
 */
for (const engine of engines()) {
  describe(`large runs' shortcuts (${engine})`, () => {
    const setup = engineLedger(engine);

    it('a batch decided after an entry appeared finds it, though the batches before found an empty ledger', async () => {
      const { open } = await setup.start();
      const planner = new Planner(open.db, config, true, false);
      await planner.decide([payment('Ab12', '1')]);
      expect(planner.plan.decision(0)).toMatchObject({ paymentKey: 'pi_3Ab12', status: 'credited' });

      // Written by other means since (by hand, with no payment key): only its session names it.
      await open.db
        .insertInto('credit_ledger')
        .values({
          user_id: '2',
          credits: 5,
          kind: 'purchase',
          payment_key: null,
          checkout_session_id: 'cs_test_a1Cd34',
          payment_intent_id: null,
          amount: 500,
          currency: 'usd',
          livemode: 0,
          actor: 'support',
          reason: null,
          run_id: null,
          created_at: nowIso(),
          matched_by: null,
          customer_id: null,
        })
        .execute();
      await planner.decide([payment('Cd34', '2'), payment('Ef56', '3')]);
      expect(planner.plan.find('pi_3Cd34')).toMatchObject({ status: 'already_credited' });
      expect(planner.plan.find('pi_3Ef56')).toMatchObject({ status: 'credited', userId: '3' });
    });

    it('the local record: exactly the keys asked for that it holds, whatever lies between them', async () => {
      const { open } = await setup.start();
      // Keys beyond ASCII too: JavaScript orders a surrogate pair below U+E000, UTF-8 above it.
      const held = ['pi_3B', 'pi_3D', 'pi_3\u{1F600}', 'pi_3\uE000', 'pi_3F'];
      await open.db.transaction().execute((trx) => recordDecisions(trx, held.map(pending), null));
      const asked = ['pi_3A', 'pi_3B', 'pi_3C', 'pi_3\uE000', 'pi_3\u{1F600}', 'pi_3G'];
      const found = await recordedAmong(open.db, asked);
      expect([...found].sort()).toEqual(['pi_3B', 'pi_3\uE000', 'pi_3\u{1F600}'].sort());
      expect((await recordedAmong(open.db, ['pi_3C'])).size).toBe(0);
      expect((await recordedAmong(open.db, [])).size).toBe(0);
    });

    it('the local record: a few keys far apart over a large record (a short plan) are found as well', async () => {
      const { open } = await setup.start();
      const held = Array.from({ length: 200 }, (_, i) => `pi_3M${String(i).padStart(4, '0')}`);
      await open.db.transaction().execute((trx) => recordDecisions(trx, held.map(pending), null));
      // Between the first and the last lie 199 records: more than the range reads for two keys.
      const found = await recordedAmong(open.db, [held[0]!, 'pi_3M0100x', held[199]!]);
      expect([...found].sort()).toEqual([held[0], held[199]]);
    });
  });
}
