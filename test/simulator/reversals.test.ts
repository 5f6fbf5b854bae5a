import { describe, it, expect } from 'vitest';
import Stripe from 'stripe';
import { startSimulator, type SimulatorOptions, type StripeSimulator } from '../../src/simulator/index.js';

/**
 * Refunds and disputes in the simulator, read through the real SDK: the objects and their lists as
 * Stripe serves them, each step of their life cycles with the events Stripe sends, restricted keys,
 * and fixtures that plant them at given times.
 */

const KEY = 'sk_test_simulator';
const DAY = 86400;
const T0 = 1_780_000_000;
const NOW = T0 + 10 * DAY;

function client(sim: StripeSimulator, key = KEY): Stripe {
  return new Stripe(key, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
}

/** A simulator whose clock is `clock.now` (starts at NOW). */
async function withSim(
  fn: (sim: StripeSimulator, stripe: Stripe, clock: { now: number }) => Promise<void>,
  opts: SimulatorOptions = {},
): Promise<void> {
  const clock = { now: NOW };
  const sim = await startSimulator({ now: () => clock.now, ...opts });
  try {
    await fn(sim, client(sim), clock);
  } finally {
    await sim.close();
  }
}

/** A paid Checkout payment of `amount`; returns its PaymentIntent and charge ids. */
function pay(sim: StripeSimulator, amount = 1000, created = T0): { pi: string; ch: string } {
  const r = sim.store.createCheckoutPayment({ created, amount });
  return { pi: r.paymentIntent!.id, ch: r.charge!.id };
}

const summary = (events: Stripe.Event[]) =>
  events.map((e) => [e.type, (e.data.object as { id: string }).id, e.created, e.data.previous_attributes ?? null]);

async function rawStatus(sim: StripeSimulator, path: string): Promise<{ status: number; message: unknown }> {
  const res = await fetch(sim.url + path, { headers: { authorization: `Bearer ${KEY}` } });
  const body = (await res.json()) as { error?: { message?: unknown } };
  return { status: res.status, message: body.error?.message };
}

describe('simulator refunds', () => {
  it('full, partial and several partial refunds: Stripe-shaped objects, listed and retrieved', async () => {
    await withSim(async (sim, stripe, clock) => {
      const a = pay(sim, 1000, T0);
      const b = pay(sim, 2500, T0 + 100);
      clock.now = T0 + DAY;
      const full = sim.store.refund(a.pi)!;
      clock.now = T0 + 2 * DAY;
      const p1 = sim.store.refund(b.pi, 500, { reason: 'requested_by_customer', metadata: { ticket: 'T-1' } })!;
      const p2 = sim.store.refund(b.pi, 700, { created: T0 + 3 * DAY })!;
      // never more than is left: the rest is 1,300
      const p3 = sim.store.refund(b.pi, 5000, { created: T0 + 4 * DAY })!;
      expect(sim.store.refund(b.pi, 1)).toBeNull();

      const got = await stripe.refunds.retrieve(p1.id);
      expect(got.id).toMatch(/^re_3[A-Za-z0-9]{23}$/);
      expect(got).toMatchObject({
        object: 'refund',
        amount: 500,
        charge: b.ch,
        payment_intent: b.pi,
        currency: 'usd',
        status: 'succeeded',
        created: T0 + 2 * DAY,
        metadata: { ticket: 'T-1' },
        reason: 'requested_by_customer',
      });
      expect(got.balance_transaction).toMatch(/^txn_3[A-Za-z0-9]{23}$/);
      expect(got).not.toHaveProperty('failure_reason');
      expect((await stripe.refunds.retrieve(full.id)).amount).toBe(1000);
      expect([p2.amount, p3.amount]).toEqual([700, 1300]);

      // newest first, filtered by charge or PaymentIntent, paged both ways
      const all = await stripe.refunds.list();
      expect(all.data.map((r) => r.id)).toEqual([p3.id, p2.id, p1.id, full.id]);
      const ofB = await stripe.refunds.list({ payment_intent: b.pi, limit: 2 }).autoPagingToArray({ limit: 10 });
      expect(ofB.map((r) => r.id)).toEqual([p3.id, p2.id, p1.id]);
      expect((await stripe.refunds.list({ charge: a.ch })).data.map((r) => r.id)).toEqual([full.id]);
      expect((await stripe.refunds.list({ charge: a.ch, payment_intent: b.pi })).data).toEqual([]);
      const page = await stripe.refunds.list({ limit: 2, starting_after: p2.id });
      expect(page.data.map((r) => r.id)).toEqual([p1.id, full.id]);
      expect(page.has_more).toBe(false);
      const back = await stripe.refunds.list({ limit: 1, ending_before: p1.id });
      expect(back.data.map((r) => r.id)).toEqual([p2.id]);
      expect(back.has_more).toBe(true);

      // created filters, each bound
      const ids = async (created: Stripe.RangeQueryParam | number) =>
        (await stripe.refunds.list({ created })).data.map((r) => r.id);
      expect(await ids({ gte: T0 + 2 * DAY, lt: T0 + 4 * DAY })).toEqual([p2.id, p1.id]);
      expect(await ids({ gt: T0 + 2 * DAY, lte: T0 + 4 * DAY })).toEqual([p3.id, p2.id]);
      expect(await ids(T0 + DAY)).toEqual([full.id]);

      // the charges say what was refunded
      expect(await stripe.charges.retrieve(a.ch)).toMatchObject({ amount_refunded: 1000, refunded: true });
      expect(await stripe.charges.retrieve(b.ch)).toMatchObject({ amount_refunded: 2500, refunded: true });
      const expanded = await stripe.refunds.retrieve(p1.id, { expand: ['charge', 'payment_intent'] });
      expect((expanded.charge as Stripe.Charge).id).toBe(b.ch);
      expect((expanded.payment_intent as Stripe.PaymentIntent).id).toBe(b.pi);
    });
  });

  it('answers 400 to a parameter the real endpoint does not take, 404 to an unknown id', async () => {
    await withSim(async (sim, stripe) => {
      const { pi } = pay(sim);
      const r = sim.store.refund(pi, 100)!;
      for (const path of ['/v1/refunds?status=succeeded', '/v1/refunds?customer=cus_x', '/v1/disputes?status=won']) {
        const got = await rawStatus(sim, path);
        expect(got.status).toBe(400);
        expect(got.message).toMatch(/^Received unknown parameter: (status|customer)$/);
      }
      expect((await rawStatus(sim, '/v1/refunds?created[after]=1')).status).toBe(400);
      expect((await rawStatus(sim, '/v1/refunds?limit=101')).status).toBe(400);
      expect((await rawStatus(sim, `/v1/refunds?starting_after=${pi}`)).status).toBe(400);
      const missing = await stripe.refunds.retrieve('re_3NoSuchRefund00000000000').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
      // a refund id is not a dispute, nor the reverse
      expect((await rawStatus(sim, `/v1/disputes/${r.id}`)).status).toBe(404);
      expect((await rawStatus(sim, `/v1/refunds/${pi}`)).status).toBe(404);
    });
  });

  it('a pending refund that succeeds later, and one that fails after succeeding', async () => {
    await withSim(async (sim, stripe, clock) => {
      const { pi, ch } = pay(sim, 1000);
      clock.now = T0 + DAY;
      const pending = sim.store.refund(pi, 300, { status: 'pending' })!;
      expect(await stripe.refunds.retrieve(pending.id)).toMatchObject({
        status: 'pending',
        pending_reason: 'processing',
      });
      // a pending refund is counted on the charge at once, as Stripe does
      expect(await stripe.charges.retrieve(ch)).toMatchObject({ amount_refunded: 300, refunded: false });
      clock.now = T0 + 3 * DAY;
      sim.store.settleRefund(pending.id);
      const settled = await stripe.refunds.retrieve(pending.id);
      expect(settled.status).toBe('succeeded');
      expect(settled).not.toHaveProperty('pending_reason');

      const card = sim.store.refund(pi, 700, { created: T0 + 4 * DAY })!;
      expect(await stripe.charges.retrieve(ch)).toMatchObject({ amount_refunded: 1000, refunded: true });
      sim.store.failRefund(card.id, { reason: 'lost_or_stolen_card', at: T0 + 6 * DAY });
      const failed = await stripe.refunds.retrieve(card.id);
      expect(failed).toMatchObject({ status: 'failed', failure_reason: 'lost_or_stolen_card' });
      expect(failed.failure_balance_transaction).toMatch(/^txn_3[A-Za-z0-9]{23}$/);
      // the money is back on the charge
      expect(await stripe.charges.retrieve(ch)).toMatchObject({ amount_refunded: 300, refunded: false });
      expect(() => sim.store.failRefund(card.id)).toThrow(/it is failed/);
      expect(() => sim.store.settleRefund(card.id)).toThrow();

      const events = await stripe.events.list({ limit: 100, created: { gte: T0 + DAY } });
      const wasSucceeded = { status: 'succeeded', failure_reason: null, failure_balance_transaction: null };
      const wasPending = { status: 'pending', pending_reason: 'processing' };
      expect(summary(events.data)).toEqual([
        ['charge.refund.updated', card.id, T0 + 6 * DAY, wasSucceeded],
        ['refund.failed', card.id, T0 + 6 * DAY, wasSucceeded],
        ['refund.updated', card.id, T0 + 6 * DAY, wasSucceeded],
        ['refund.created', card.id, T0 + 4 * DAY, null],
        ['charge.refunded', ch, T0 + 4 * DAY, { amount_refunded: 300, refunded: false }],
        ['charge.refund.updated', pending.id, T0 + 3 * DAY, wasPending],
        ['refund.updated', pending.id, T0 + 3 * DAY, wasPending],
        ['refund.created', pending.id, T0 + DAY, null],
        ['charge.refunded', ch, T0 + DAY, { amount_refunded: 0, refunded: false }],
      ]);
      // each event holds the object as it was then
      expect((events.data[4]!.data.object as Stripe.Charge).amount_refunded).toBe(1000);
      expect((events.data[7]!.data.object as Stripe.Refund).status).toBe('pending');
      expect((events.data[0]!.data.object as Stripe.Refund).status).toBe('failed');
    });
  });

  it('a refund that waits for the customer and is canceled', async () => {
    await withSim(async (sim, stripe) => {
      const { pi, ch } = pay(sim, 1000);
      const done = sim.store.refund(pi, 200)!;
      const waiting = sim.store.refund(pi, 800, { status: 'requires_action' })!;
      expect(await stripe.refunds.retrieve(waiting.id)).toMatchObject({
        status: 'requires_action',
        next_action: { type: 'display_details' },
      });
      expect(await stripe.charges.retrieve(ch)).toMatchObject({ amount_refunded: 1000, refunded: true });
      expect(() => sim.store.cancelRefund(done.id)).toThrow(/it is succeeded/);
      const pending = sim.store.refund(pay(sim).pi, 100, { status: 'pending' })!;
      expect(() => sim.store.cancelRefund(pending.id)).toThrow(/it is pending/);
      sim.store.cancelRefund(waiting.id, NOW + 60);
      const canceled = await stripe.refunds.retrieve(waiting.id);
      expect(canceled.status).toBe('canceled');
      expect(canceled).not.toHaveProperty('next_action');
      expect(await stripe.charges.retrieve(ch)).toMatchObject({ amount_refunded: 200, refunded: false });
      const updates = await stripe.events.list({ types: ['refund.updated', 'charge.refund.updated', 'refund.failed'] });
      expect(
        updates.data.map((e) => [
          e.type,
          e.created,
          (e.data.previous_attributes as { status?: string } | undefined)?.status,
        ]),
      ).toEqual([
        ['charge.refund.updated', NOW + 60, 'requires_action'],
        ['refund.updated', NOW + 60, 'requires_action'],
      ]);
      // what was canceled can be refunded again
      expect(sim.store.refund(pi)!.amount).toBe(800);
    });
  });
});

describe('simulator disputes', () => {
  it('a chargeback of a partly refunded payment, reviewed and lost; another won', async () => {
    await withSim(async (sim, stripe, clock) => {
      const a = pay(sim, 1000, T0);
      const b = pay(sim, 4000, T0 + 10);
      sim.store.refund(a.pi, 250, { created: T0 + DAY });
      clock.now = T0 + 2 * DAY;
      const lost = sim.store.openDispute(a.pi);
      const won = sim.store.openDispute(b.pi, { reason: 'product_not_received', created: T0 + 3 * DAY });
      const got = await stripe.disputes.retrieve(lost.id);
      expect(got.id).toMatch(/^dp_1[A-Za-z0-9]{23}$/);
      expect(got).toMatchObject({
        object: 'dispute',
        amount: 750, // what the refund left
        charge: a.ch,
        payment_intent: a.pi,
        currency: 'usd',
        status: 'needs_response',
        reason: 'fraudulent',
        created: T0 + 2 * DAY,
        is_charge_refundable: false,
        livemode: false,
      });
      expect(await stripe.charges.retrieve(a.ch)).toMatchObject({ disputed: true, amount_refunded: 250 });
      expect((await stripe.charges.retrieve(pay(sim).ch)).disputed).toBe(false);
      // a chargeback can not be refunded, and a charge has one dispute
      expect(() => sim.store.refund(a.pi)).toThrow(/charged back/);
      expect(() => sim.store.openDispute(a.pi)).toThrow(/already has a dispute/);

      sim.store.closeDispute(lost.id, 'lost', T0 + 20 * DAY);
      sim.store.reviewDispute(won.id, T0 + 4 * DAY);
      sim.store.closeDispute(won.id, 'won', T0 + 30 * DAY);
      expect(() => sim.store.closeDispute(won.id, 'lost')).toThrow(/it is won/);
      expect(await stripe.disputes.retrieve(won.id)).toMatchObject({
        status: 'won',
        amount: 4000,
        reason: 'product_not_received',
        evidence_details: { has_evidence: true, submission_count: 1 },
      });

      const events = await stripe.events.list({ type: 'charge.dispute.*', limit: 100 });
      expect(summary(events.data)).toEqual([
        ['charge.dispute.funds_reinstated', won.id, T0 + 30 * DAY, null],
        ['charge.dispute.closed', won.id, T0 + 30 * DAY, { status: 'under_review' }],
        ['charge.dispute.closed', lost.id, T0 + 20 * DAY, { status: 'needs_response' }],
        [
          'charge.dispute.updated',
          won.id,
          T0 + 4 * DAY,
          expect.objectContaining({
            status: 'needs_response',
            evidence_details: expect.objectContaining({ has_evidence: false }),
          }),
        ],
        ['charge.dispute.funds_withdrawn', won.id, T0 + 3 * DAY, null],
        ['charge.dispute.created', won.id, T0 + 3 * DAY, null],
        ['charge.dispute.funds_withdrawn', lost.id, T0 + 2 * DAY, null],
        ['charge.dispute.created', lost.id, T0 + 2 * DAY, null],
      ]);
      expect((events.data.at(-1)!.data.object as Stripe.Dispute).status).toBe('needs_response');
      expect((events.data[1]!.data.object as Stripe.Dispute).status).toBe('won');

      // lists: newest first, by charge or PaymentIntent, created, paging
      expect((await stripe.disputes.list()).data.map((d) => d.id)).toEqual([won.id, lost.id]);
      expect((await stripe.disputes.list({ charge: a.ch })).data.map((d) => d.id)).toEqual([lost.id]);
      expect((await stripe.disputes.list({ payment_intent: b.pi })).data.map((d) => d.id)).toEqual([won.id]);
      expect((await stripe.disputes.list({ created: { lt: T0 + 3 * DAY } })).data.map((d) => d.id)).toEqual([lost.id]);
      const paged = await stripe.disputes.list({ limit: 1 }).autoPagingToArray({ limit: 10 });
      expect(paged.map((d) => d.id)).toEqual([won.id, lost.id]);
      const before = await stripe.disputes.list({ ending_before: lost.id });
      expect(before.data.map((d) => d.id)).toEqual([won.id]);
      const withCharge = await stripe.disputes.list({ expand: ['data.charge'] });
      expect((withCharge.data[0]!.charge as Stripe.Charge).id).toBe(b.ch);
    });
  });

  it('an inquiry moves no money, can be refunded, and escalates to a chargeback', async () => {
    await withSim(async (sim, stripe) => {
      const a = pay(sim, 1000);
      const b = pay(sim, 1000, T0 + 1);
      const closed = sim.store.openDispute(a.pi, { status: 'warning_needs_response', created: T0 + DAY });
      expect(closed).toMatchObject({ is_charge_refundable: true, status: 'warning_needs_response' });
      expect(() => sim.store.closeDispute(closed.id, 'won')).toThrow();
      sim.store.reviewDispute(closed.id, T0 + 2 * DAY);
      expect(sim.store.refund(a.pi, 100, { created: T0 + 2 * DAY })!.amount).toBe(100);
      sim.store.closeDispute(closed.id, 'warning_closed', T0 + 3 * DAY);

      const escalated = sim.store.openDispute(b.pi, { status: 'warning_needs_response', created: T0 + DAY });
      sim.store.escalateDispute(escalated.id, T0 + 5 * DAY);
      expect(await stripe.disputes.retrieve(escalated.id)).toMatchObject({
        status: 'needs_response',
        is_charge_refundable: false,
        payment_method_details: { card: { case_type: 'chargeback' } },
      });
      expect(() => sim.store.refund(b.pi)).toThrow(/charged back/);
      const types = (await stripe.events.list({ type: 'charge.dispute.*', limit: 100 })).data.map((e) => [
        e.type,
        (e.data.object as Stripe.Dispute).id,
        (e.data.object as Stripe.Dispute).status,
      ]);
      expect(types).toEqual([
        ['charge.dispute.funds_withdrawn', escalated.id, 'needs_response'],
        ['charge.dispute.updated', escalated.id, 'needs_response'],
        ['charge.dispute.closed', closed.id, 'warning_closed'],
        ['charge.dispute.updated', closed.id, 'warning_under_review'],
        ['charge.dispute.created', escalated.id, 'warning_needs_response'],
        ['charge.dispute.created', closed.id, 'warning_needs_response'],
      ]);
    });
  });
});

describe('simulator reversals: keys, events and fixtures', () => {
  const RK = 'rk_test_reversals00wxyz';

  it('restricted keys need rak_refund_read and rak_dispute_read (and rak_charge_read to expand a charge)', async () => {
    await withSim(
      async (sim) => {
        const { pi } = pay(sim);
        sim.store.refund(pi, 100);
        sim.store.openDispute(pi);
        const rk = client(sim, RK);
        const refunds = await rk.refunds.list().catch((e: unknown) => e);
        expect(refunds).toMatchObject({ statusCode: 403 });
        expect((refunds as Error).message).toContain("Having the 'rak_refund_read' permission");
        const disputes = await rk.disputes.list({ payment_intent: pi }).catch((e: unknown) => e);
        expect((disputes as Error).message).toContain("Having the 'rak_dispute_read' permission");

        const both = client(sim, 'rk_test_reversals01wxyz');
        expect((await both.refunds.list()).data.length).toBe(1);
        const [d] = (await both.disputes.list()).data;
        expect((await both.disputes.retrieve(d!.id)).id).toBe(d!.id);
        const expanded = await both.refunds.list({ expand: ['data.charge'] }).catch((e: unknown) => e);
        expect((expanded as Error).message).toContain("Having the 'rak_charge_read' permission");
      },
      {
        restrictedKeys: {
          [RK]: ['rak_charge_read', 'rak_payment_intent_read', 'rak_event_read'],
          rk_test_reversals01wxyz: ['rak_refund_read', 'rak_dispute_read'],
        },
      },
    );
  });

  it('fixtures plant refunds and disputes with their statuses at absolute times', async () => {
    await withSim(async (sim, stripe) => {
      sim.store.loadFixture({
        checkoutPayments: [
          {
            id: 'cs_test_a1Reversals0000000000000000000000000000000000000000000000',
            paymentIntentId: 'pi_3Reversals000000000000',
            created: T0,
            amount: 3000,
            refunds: [
              { id: 're_3Partial00000000000000', amount: 500, created: T0 + DAY },
              {
                amount: 1000,
                created: T0 + 2 * DAY,
                status: 'failed',
                updated: T0 + 3 * DAY,
                failureReason: 'declined',
              },
              { amount: 200, created: T0 + 2 * DAY, status: 'succeeded', updated: T0 + 4 * DAY },
              { amount: 300, created: T0 + 5 * DAY, status: 'canceled', updated: T0 + 6 * DAY },
              { amount: 100, created: T0 + 5 * DAY, status: 'pending' },
            ],
            // opened after the failed refund gave its money back: 3000 - 500 - 200 - 100
            dispute: {
              id: 'dp_1Lost0000000000000000000',
              created: T0 + 7 * DAY,
              status: 'lost',
              updated: T0 + 9 * DAY,
            },
          },
        ],
        paymentIntents: [
          {
            id: 'pi_3Won000000000000000000000',
            created: T0,
            amount: 800,
            dispute: { status: 'won', created: T0 + DAY, updated: T0 + 2 * DAY },
          },
          {
            id: 'pi_3Open00000000000000000000',
            created: T0,
            amount: 900,
            dispute: { status: 'under_review', created: T0 + DAY, updated: T0 + 2 * DAY },
          },
          {
            id: 'pi_3Inquiry00000000000000000',
            created: T0,
            amount: 700,
            refunds: [{ amount: 700, created: T0 + DAY }],
            dispute: { status: 'warning_needs_response', amount: 700, created: T0 + 2 * DAY },
          },
        ],
      });
      const refunds = await stripe.refunds.list({ payment_intent: 'pi_3Reversals000000000000' });
      expect(refunds.data.map((r) => [r.amount, r.status, r.created])).toEqual([
        [100, 'pending', T0 + 5 * DAY],
        [300, 'canceled', T0 + 5 * DAY],
        [200, 'succeeded', T0 + 2 * DAY],
        [1000, 'failed', T0 + 2 * DAY],
        [500, 'succeeded', T0 + DAY],
      ]);
      expect(refunds.data[3]!.failure_reason).toBe('declined');
      expect(refunds.data.at(-1)!.id).toBe('re_3Partial00000000000000');
      const charge = (await stripe.paymentIntents.retrieve('pi_3Reversals000000000000')).latest_charge as string;
      expect(await stripe.charges.retrieve(charge)).toMatchObject({ amount_refunded: 800, disputed: true });
      expect(await stripe.disputes.retrieve('dp_1Lost0000000000000000000')).toMatchObject({
        amount: 2200,
        status: 'lost',
        created: T0 + 7 * DAY,
      });
      const byPi = async (pi: string) => (await stripe.disputes.list({ payment_intent: pi })).data[0]!;
      expect(await byPi('pi_3Won000000000000000000000')).toMatchObject({ status: 'won', amount: 800 });
      expect(await byPi('pi_3Open00000000000000000000')).toMatchObject({ status: 'under_review' });
      expect(await byPi('pi_3Inquiry00000000000000000')).toMatchObject({
        status: 'warning_needs_response',
        amount: 700,
      });

      // events at the planted times (all within retention of NOW)
      const failed = await stripe.events.list({ type: 'refund.failed' });
      expect(failed.data.map((e) => e.created)).toEqual([T0 + 3 * DAY]);
      const closed = await stripe.events.list({ types: ['charge.dispute.closed', 'charge.dispute.funds_reinstated'] });
      expect(closed.data.map((e) => [e.type, e.created, (e.data.object as Stripe.Dispute).status])).toEqual([
        ['charge.dispute.closed', T0 + 9 * DAY, 'lost'],
        ['charge.dispute.funds_reinstated', T0 + 2 * DAY, 'won'],
        ['charge.dispute.closed', T0 + 2 * DAY, 'won'],
      ]);
    });
  });

  it('a fixture that cannot happen is refused with a clear error', async () => {
    await withSim(async (sim) => {
      const st = sim.store;
      expect(() => st.createPaymentIntent({ created: T0, status: 'processing', dispute: {} })).toThrow(
        /did not succeed/,
      );
      expect(() => st.createPaymentIntent({ created: T0, refunds: [{ created: T0 + 10, updated: T0 }] })).toThrow(
        /before created/,
      );
      expect(() =>
        st.createPaymentIntent({
          created: T0,
          amount: 100,
          refunds: [
            { amount: 100, created: T0 + 1 },
            { amount: 1, created: T0 + 2 },
          ],
        }),
      ).toThrow(/nothing left to refund/);
      expect(() => st.createPaymentIntent({ created: T0, refunds: [{ status: 'lost' as never }] })).toThrow(
        /unknown status/,
      );
      expect(() => st.createPaymentIntent({ created: T0, dispute: { status: 'nope' as never } })).toThrow(
        /unknown status/,
      );
    });
  });

  it('events of a live charge are live; refundedAmount still makes one refund; relative plan times', async () => {
    await withSim(async (sim, stripe) => {
      const live = sim.store.createPaymentIntent({ created: T0, livemode: true, refundedAmount: 400 });
      const events = await stripe.events.list({ types: ['refund.created', 'charge.refunded'] });
      expect(events.data.map((e) => [e.type, e.livemode])).toEqual([
        ['refund.created', true],
        ['charge.refunded', true],
      ]);
      const [r] = (await stripe.refunds.list({ payment_intent: live.paymentIntent.id })).data;
      expect(r).toMatchObject({ amount: 400, status: 'succeeded', created: NOW });
      // a plan's negative time is relative to now(), as the store's other times
      const relative = sim.store.createPaymentIntent({
        created: -2 * DAY,
        refunds: [{ amount: 100, created: -3600 }],
        dispute: { created: -60, status: 'lost' },
      });
      const pi = relative.paymentIntent.id;
      expect((await stripe.refunds.list({ payment_intent: pi })).data.map((x) => x.created)).toEqual([NOW - 3600]);
      const [d] = (await stripe.disputes.list({ payment_intent: pi })).data;
      expect(d).toMatchObject({ created: NOW - 60, amount: 900, status: 'lost' });
    });
  });
});
