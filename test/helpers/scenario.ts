import type { SimulatorStore } from '../../src/simulator/index.js';
import type { TestUser } from './cli.js';

/** What the test expects reconcile to decide for one payment, written down independently of the code. */
export interface Expected {
  status: 'credited' | 'needs_review' | 'pending' | 'skipped';
  reason?: string;
  userId?: string;
  credits?: number;
  matchedBy?: string;
}

export interface Scenario {
  users: TestUser[];
  config: Record<string, unknown>;
  since: number;
  until: number;
  /** Payment key → expected outcome; payments the run must not list are in `notListed`. */
  expected: Map<string, Expected>;
  notListed: Set<string>;
}

export const SCENARIO_CONFIG = {
  credits: { prices: { price_small: 100, price_big: 1000 }, unitAmountPerCredit: { usd: 10 } },
};

/**
 * A few hundred payments of every kind SPEC distinguishes, spread over the window with many ties
 * on `created`, so that listing crosses several pages. Deterministic.
 */
export function buildScenario(store: SimulatorStore, opts: { until: number; count?: number }): Scenario {
  const count = opts.count ?? 300;
  const until = opts.until;
  const since = until - 5 * 86400;
  const users: TestUser[] = [];
  for (let i = 1; i <= 40; i++) users.push({ id: i, email: `user${i}@example.com`, name: `User ${i}` });
  users.push(
    { id: 41, email: 'twin@example.com', name: 'Twin A' },
    { id: 42, email: 'TWIN@example.com', name: 'Twin B' },
  );

  const expected = new Map<string, Expected>();
  const notListed = new Set<string>();
  const key = (r: { session: { id: string }; paymentIntent: { id: string } | null }) =>
    r.paymentIntent?.id ?? r.session.id;

  for (let i = 0; i < count; i++) {
    // Groups of three share a timestamp: ties on `created` across page boundaries.
    const paidAt = since + 600 + Math.floor(i / 3) * Math.floor((4 * 86400) / count) * 3;
    const created = paidAt - 60;
    const uid = String((i % 40) + 1);
    const email = `user${uid}@example.com`;
    switch (i % 16) {
      case 0: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          metadata: { credits: '250' },
          amount: 2500,
          email,
        });
        expected.set(key(r), { status: 'credited', userId: uid, credits: 250, matchedBy: 'client_reference_id' });
        break;
      }
      case 1: {
        const r = store.createCheckoutPayment({ created, paidAt, metadata: { user_id: uid }, amount: 1234 });
        expected.set(key(r), { status: 'credited', userId: uid, credits: 123, matchedBy: 'metadata.user_id' });
        break;
      }
      case 2: {
        const r = store.createCheckoutPayment({ created, paidAt, amount: 990, email: `  ${email.toUpperCase()} ` });
        expected.set(key(r), { status: 'credited', userId: uid, credits: 99, matchedBy: 'email' });
        break;
      }
      case 3: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: `ext_${i}`,
          amount: 500,
          customerEmail: email,
        });
        expected.set(key(r), { status: 'credited', userId: uid, credits: 50, matchedBy: 'email' });
        break;
      }
      case 4: {
        const r = store.createCheckoutPayment({ created, paidAt, amount: 500, email: 'twin@example.com' });
        expected.set(key(r), { status: 'needs_review', reason: 'ambiguous_email' });
        break;
      }
      case 5: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          amount: 500,
          email: `nobody${i}@example.net`,
          name: `User ${uid}`,
        });
        expected.set(key(r), { status: 'needs_review', reason: 'no_user' });
        break;
      }
      case 6: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          amount: 5000,
          paymentStatus: 'unpaid',
        });
        expected.set(key(r), { status: 'pending' });
        break;
      }
      case 7: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          amount: 5000,
          paymentStatus: 'unpaid',
          piStatus: 'requires_payment_method',
        });
        notListed.add(key(r));
        break;
      }
      case 8: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          amount: 700,
          refundedAmount: 700,
        });
        expected.set(key(r), { status: 'skipped', reason: 'refunded' });
        break;
      }
      case 9: {
        const r = store.createCheckoutPayment({
          created,
          clientReferenceId: uid,
          amount: 1500,
          mode: i % 32 === 9 ? 'subscription' : 'setup',
        });
        expected.set(key(r), { status: 'skipped', reason: i % 32 === 9 ? 'subscription' : 'setup' });
        break;
      }
      case 10: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          metadata: { credits: '12.5' },
          amount: 700,
        });
        expected.set(key(r), { status: 'needs_review', reason: 'invalid_credits' });
        break;
      }
      case 11: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          lineItems: [
            { price: 'price_small', quantity: 3, unitAmount: 900 },
            { price: 'price_big', quantity: 1, unitAmount: 8000 },
          ],
        });
        expected.set(key(r), { status: 'credited', userId: uid, credits: 1300, matchedBy: 'client_reference_id' });
        break;
      }
      case 12: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          clientReferenceId: uid,
          amount: 700,
          currency: 'eur',
        });
        expected.set(key(r), { status: 'needs_review', reason: 'no_credit_rule' });
        break;
      }
      case 13: {
        const r = store.createCheckoutPayment({ created, paidAt, clientReferenceId: uid, amount: 5 });
        expected.set(key(r), { status: 'skipped', reason: 'no_credits' });
        break;
      }
      case 14: {
        const pi = store.createPaymentIntent({
          created: paidAt,
          amount: 3000,
          metadata: { user_id: uid, credits: '40' },
        });
        expected.set(pi.paymentIntent.id, {
          status: 'credited',
          userId: uid,
          credits: 40,
          matchedBy: 'metadata.user_id',
        });
        const bare = store.createPaymentIntent({ created: paidAt, amount: 3000 });
        notListed.add(bare.paymentIntent.id);
        const inv = store.createPaymentIntent({
          created: paidAt,
          amount: 3000,
          metadata: { user_id: uid },
          invoice: true,
        });
        expected.set(inv.paymentIntent.id, { status: 'skipped', reason: 'invoice' });
        break;
      }
      case 15: {
        const r = store.createCheckoutPayment({
          created,
          paidAt,
          status: i % 32 === 15 ? 'expired' : 'open',
          clientReferenceId: uid,
          amount: 900,
        });
        notListed.add(key(r));
        break;
      }
    }
  }

  // Edges of the window. A session created 20h before the window and paid inside it counts.
  const early = store.createCheckoutPayment({
    created: since - 20 * 3600,
    paidAt: since + 30,
    clientReferenceId: '7',
    amount: 100,
  });
  expected.set(early.paymentIntent!.id, {
    status: 'credited',
    userId: '7',
    credits: 10,
    matchedBy: 'client_reference_id',
  });
  // Paid exactly at `since` is in; paid exactly at `until` is out (until is exclusive).
  const atSince = store.createCheckoutPayment({
    created: since - 60,
    paidAt: since,
    clientReferenceId: '8',
    amount: 100,
  });
  expected.set(atSince.paymentIntent!.id, {
    status: 'credited',
    userId: '8',
    credits: 10,
    matchedBy: 'client_reference_id',
  });
  const atUntil = store.createCheckoutPayment({
    created: until - 60,
    paidAt: until,
    clientReferenceId: '9',
    amount: 100,
  });
  notListed.add(atUntil.paymentIntent!.id);
  // Paid before the window (session and PaymentIntent both older): not looked at.
  const before = store.createCheckoutPayment({
    created: since - 3600,
    paidAt: since - 1,
    clientReferenceId: '9',
    amount: 100,
  });
  notListed.add(before.paymentIntent!.id);
  // Partially refunded: still credited in full (only a full refund skips).
  const partial = store.createCheckoutPayment({
    created: since + 100,
    paidAt: since + 200,
    clientReferenceId: '10',
    amount: 1000,
    refundedAmount: 300,
  });
  expected.set(partial.paymentIntent!.id, {
    status: 'credited',
    userId: '10',
    credits: 100,
    matchedBy: 'client_reference_id',
  });
  // A free session (100% discount): no PaymentIntent, keyed by the session, 0 credits under the amount rule.
  const free = store.createCheckoutPayment({
    created: since + 300,
    clientReferenceId: '11',
    amount: 0,
    paymentStatus: 'no_payment_required',
  });
  expected.set(free.session.id, { status: 'skipped', reason: 'no_credits' });
  const freeWithCredits = store.createCheckoutPayment({
    created: since + 400,
    clientReferenceId: '11',
    amount: 0,
    paymentStatus: 'no_payment_required',
    metadata: { credits: '5' },
  });
  expected.set(freeWithCredits.session.id, {
    status: 'credited',
    userId: '11',
    credits: 5,
    matchedBy: 'client_reference_id',
  });
  // Two ids for different users; an id that resolves to nobody passed over for the next one.
  const conflict = store.createCheckoutPayment({
    created: since + 500,
    clientReferenceId: '1',
    metadata: { user_id: '2' },
    amount: 100,
  });
  expected.set(conflict.paymentIntent!.id, { status: 'needs_review', reason: 'conflicting_ids' });
  const passOver = store.createCheckoutPayment({
    created: since + 600,
    clientReferenceId: '999',
    piMetadata: { user_id: '12' },
    amount: 100,
  });
  expected.set(passOver.paymentIntent!.id, {
    status: 'credited',
    userId: '12',
    credits: 10,
    matchedBy: 'metadata.user_id',
  });
  // Emails that point at different users.
  const twoEmails = store.createCheckoutPayment({
    created: since + 700,
    email: 'user1@example.com',
    receiptEmail: 'user2@example.com',
    amount: 100,
  });
  expected.set(twoEmails.paymentIntent!.id, { status: 'needs_review', reason: 'conflicting_emails' });

  return { users, config: SCENARIO_CONFIG, since, until, expected, notListed };
}
