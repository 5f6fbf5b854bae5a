import type Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Window } from '../../src/reconcile/types.js';
import { startSimulator, type Dispute, type Refund, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { eventIds, idsFromEvents } from '../../src/stripe/fetch-events.js';
import { reversalsOf, sweepReversals, type PaymentReversals } from '../../src/stripe/fetch-reversals.js';
import { paymentIntentOf, toDisputeSnapshot, toRefundSnapshot } from '../../src/stripe/map.js';
import { RateLimiter } from '../../src/stripe/rate-limit.js';
import { StripeReader } from '../../src/stripe/reader.js';
import { DEFAULT_RETRY } from '../../src/stripe/retry.js';

/**
 * The Stripe adapter's reading of refunds and disputes (SPEC "Both directions: reversals and
 * audit"), against the simulator through the real SDK: the window's lists, every refund and dispute
 * of a payment, the requests each costs, and the events of an incremental run.
 */

const KEY = 'sk_test_reversal_reads';
const HOUR = 3600;
const DAY = 86400;
const SINCE = 1_780_000_000;
const UNTIL = SINCE + 10 * DAY;
const WINDOW: Window = { since: SINCE, until: UNTIL };
/** A retry policy that does not make the tests wait. */
const FAST_RETRY = { ...DEFAULT_RETRY, baseDelayMs: 5, maxDelayMs: 20 };

let sim: StripeSimulator;
const clock = { now: UNTIL };

beforeEach(async () => {
  clock.now = UNTIL;
  sim = await startSimulator({ apiKeys: [KEY], now: () => clock.now });
});
afterEach(async () => {
  await sim.close();
});

function newReader(): StripeReader {
  return new StripeReader(
    createStripeClient({ apiKey: KEY, apiBase: sim.url }),
    FAST_RETRY,
    'sk_test_…',
    new RateLimiter({ global: 1500, perEndpoint: 500 }, FAST_RETRY.clock),
  );
}

/** A paid Checkout payment whose PaymentIntent is created at `at`. */
function pay(at: number, amount = 1000): { pi: string; created: number } {
  const r = sim.store.createCheckoutPayment({ created: at - 60, paidAt: at, amount, clientReferenceId: '42' });
  return { pi: r.paymentIntent!.id, created: r.paymentIntent!.created };
}

const refundOf = (r: Refund | null, status = r!.status) => ({
  id: r!.id,
  amount: r!.amount,
  status,
  created: r!.created,
});
const disputeOf = (d: Dispute, status = d.status) => ({ id: d.id, amount: d.amount, status, created: d.created });

/** Requests per rate lane since `before` (a copy of requestsByEndpoint). */
function requestsSince(reader: StripeReader, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [lane, n] of reader.requestsByEndpoint)
    if (n !== (before.get(lane) ?? 0)) out[lane] = n - (before.get(lane) ?? 0);
  return out;
}

/** Newest first, as Stripe lists them, so that two readings compare equal. */
function sorted(r: PaymentReversals | undefined): PaymentReversals {
  const byTime = <T extends { created: number; id: string }>(a: T, b: T) =>
    b.created - a.created || (a.id < b.id ? 1 : -1);
  return { refunds: [...(r?.refunds ?? [])].sort(byTime), disputes: [...(r?.disputes ?? [])].sort(byTime) };
}

describe('sweepReversals: the refunds and disputes created in a window', () => {
  it('maps refunds and disputes of every kind, each under its PaymentIntent', async () => {
    const full = pay(SINCE + HOUR);
    const partial = pay(SINCE + 2 * HOUR, 2500);
    const lost = pay(SINCE + 3 * HOUR);
    const won = pay(SINCE + 4 * HOUR);
    const open = pay(SINCE + 5 * HOUR);
    const inquiry = pay(SINCE + 6 * HOUR);
    const untouched = pay(SINCE + 7 * HOUR);
    const t = SINCE + DAY;
    const r0 = sim.store.refund(full.pi, undefined, { created: t });
    const r1 = sim.store.refund(partial.pi, 500, { created: t + 1 });
    const r2 = sim.store.refund(partial.pi, 700, { created: t + 2, status: 'pending' });
    const r3 = sim.store.refund(partial.pi, 300, { created: t + 3, status: 'requires_action' });
    const r4 = sim.store.refund(partial.pi, 400, { created: t + 4 });
    sim.store.cancelRefund(r3!.id, t + 10);
    sim.store.failRefund(r4!.id, { at: t + 11 });
    const dLost = sim.store.openDispute(lost.pi, { created: t + 5 });
    sim.store.closeDispute(dLost.id, 'lost', t + 12);
    const dWon = sim.store.openDispute(won.pi, { created: t + 6 });
    sim.store.reviewDispute(dWon.id, t + 13);
    sim.store.closeDispute(dWon.id, 'won', t + 14);
    const dOpen = sim.store.openDispute(open.pi, { created: t + 7, amount: 600 });
    const dInquiry = sim.store.openDispute(inquiry.pi, { created: t + 8, status: 'warning_needs_response' });
    sim.store.closeDispute(dInquiry.id, 'warning_closed', t + 15);

    const reader = newReader();
    const swept = await sweepReversals(reader, WINDOW);
    expect([...swept.byIntent.keys()].sort()).toEqual(
      [full.pi, partial.pi, lost.pi, won.pi, open.pi, inquiry.pi].sort(),
    );
    expect(sorted(swept.byIntent.get(full.pi))).toEqual({ refunds: [refundOf(r0)], disputes: [] });
    expect(sorted(swept.byIntent.get(partial.pi))).toEqual({
      refunds: [refundOf(r4, 'failed'), refundOf(r3, 'canceled'), refundOf(r2, 'pending'), refundOf(r1, 'succeeded')],
      disputes: [],
    });
    expect(swept.byIntent.get(lost.pi)).toEqual({ refunds: [], disputes: [disputeOf(dLost, 'lost')] });
    expect(swept.byIntent.get(won.pi)).toEqual({ refunds: [], disputes: [disputeOf(dWon, 'won')] });
    expect(swept.byIntent.get(open.pi)).toEqual({
      refunds: [],
      disputes: [{ id: dOpen.id, amount: 600, status: 'needs_response', created: t + 7 }],
    });
    expect(swept.byIntent.get(inquiry.pi)!.disputes).toEqual([disputeOf(dInquiry, 'warning_closed')]);
    expect(swept.of(untouched.pi)).toEqual({ refunds: [], disputes: [] });
    // One page each, on their own lanes.
    expect(Object.fromEntries(reader.requestsByEndpoint)).toEqual({ 'refunds.list': 1, 'disputes.list': 1 });

    // Read one by one, every payment shows the same; payments made in the window cost nothing more.
    const all = [full, partial, lost, won, open, inquiry, untouched].map((p) => ({ id: p.pi, created: p.created }));
    const covered = await reversalsOf(reader, all, { swept });
    expect(reader.requests).toBe(2);
    const oneByOne = await reversalsOf(reader, all);
    expect(reader.requests).toBe(2 + 2 * all.length);
    for (const p of all) expect(sorted(covered.get(p.id))).toEqual(sorted(oneByOne.get(p.id)));
    expect(oneByOne.get(untouched.pi)).toEqual({ refunds: [], disputes: [] });
  });

  it('leaves out what was created before the window or at its end', async () => {
    const p = pay(SINCE - 3 * DAY);
    const before = sim.store.refund(p.pi, 100, { created: SINCE - 1 });
    const first = sim.store.refund(p.pi, 100, { created: SINCE });
    const last = sim.store.refund(p.pi, 100, { created: UNTIL - 1 });
    clock.now = UNTIL + DAY;
    sim.store.refund(p.pi, 100, { created: UNTIL });
    const swept = await sweepReversals(newReader(), WINDOW);
    expect(sorted(swept.byIntent.get(p.pi)).refunds.map((r) => r.id)).toEqual([last!.id, first!.id]);
    expect(before!.created).toBe(SINCE - 1);
  });

  it('pages past 100 refunds in the window, each read once', async () => {
    const payments = Array.from({ length: 50 }, (_, i) => pay(SINCE + i * HOUR, 10_000));
    const ids: string[] = [];
    payments.forEach((p, i) => {
      for (let k = 0; k < 5; k++) ids.push(sim.store.refund(p.pi, 100, { created: SINCE + DAY + i * 60 + k })!.id);
    });
    const reader = newReader();
    const swept = await sweepReversals(reader, WINDOW, { scan: { maxSlices: 2, inflightFactor: 1 } });
    const seen = [...swept.byIntent.values()].flatMap((r) => r.refunds.map((x) => x.id));
    expect(seen).toHaveLength(250);
    expect(new Set(seen)).toEqual(new Set(ids));
    for (const p of payments) expect(swept.byIntent.get(p.pi)!.refunds).toHaveLength(5);
    expect(reader.requestsByEndpoint.get('refunds.list')).toBeGreaterThanOrEqual(3);
  });
});

describe('reversalsOf: all the refunds and disputes of given payments', () => {
  it('costs no request for payments made in the window, two for one made before it', async () => {
    const inWindow = Array.from({ length: 4 }, (_, i) => pay(SINCE + (i + 1) * HOUR));
    for (const [i, p] of inWindow.entries()) sim.store.refund(p.pi, 250, { created: SINCE + DAY + i });
    sim.store.openDispute(inWindow[0]!.pi, { created: SINCE + 2 * DAY });
    const old = pay(SINCE - 5 * DAY, 2000);
    const early = sim.store.refund(old.pi, 300, { created: SINCE - 2 * DAY });
    const late = sim.store.refund(old.pi, 200, { created: SINCE + DAY });
    const dispute = sim.store.openDispute(old.pi, { created: SINCE + 2 * DAY });

    const reader = newReader();
    const swept = await sweepReversals(reader, WINDOW);
    // The sweep saw only the old payment's refund in the window.
    expect(swept.of(old.pi).refunds.map((r) => r.id)).toEqual([late!.id]);

    let before = new Map(reader.requestsByEndpoint);
    const refs = inWindow.map((p) => ({ id: p.pi, created: p.created }));
    const got = await reversalsOf(reader, refs, { swept });
    expect(requestsSince(reader, before)).toEqual({});
    expect(got.get(inWindow[0]!.pi)!.disputes).toHaveLength(1);
    for (const p of inWindow) expect(got.get(p.pi)!.refunds.map((r) => r.amount)).toEqual([250]);

    before = new Map(reader.requestsByEndpoint);
    const withOld = await reversalsOf(reader, [...refs, { id: old.pi, created: old.created }], { swept });
    expect(requestsSince(reader, before)).toEqual({ 'refunds.list': 1, 'disputes.list': 1 });
    expect(sorted(withOld.get(old.pi))).toEqual({
      refunds: [refundOf(late), refundOf(early)],
      disputes: [disputeOf(dispute)],
    });

    // A PaymentIntent of unknown age is read, once however often it is named.
    before = new Map(reader.requestsByEndpoint);
    const unknown = await reversalsOf(reader, [{ id: inWindow[1]!.pi }, { id: inWindow[1]!.pi }], { swept });
    expect(requestsSince(reader, before)).toEqual({ 'refunds.list': 1, 'disputes.list': 1 });
    expect(unknown.size).toBe(1);
  });

  it('reads every page of a payment with more than 100 refunds', async () => {
    const p = pay(SINCE - DAY, 100_000);
    const ids = Array.from({ length: 150 }, (_, i) => sim.store.refund(p.pi, 10, { created: SINCE + i })!.id);
    const reader = newReader();
    const got = await reversalsOf(reader, [{ id: p.pi, created: p.created }]);
    expect(new Set(got.get(p.pi)!.refunds.map((r) => r.id))).toEqual(new Set(ids));
    expect(got.get(p.pi)!.refunds).toHaveLength(150);
    expect(Object.fromEntries(reader.requestsByEndpoint)).toEqual({ 'refunds.list': 2, 'disputes.list': 1 });
  });

  it('reads many payments concurrently within the rate lanes; a 429 slows only its own lane', async () => {
    const payments = Array.from({ length: 20 }, (_, i) => pay(SINCE - DAY + i));
    for (const p of payments) sim.store.refund(p.pi, 100, { created: SINCE + HOUR });
    const reader = newReader();
    sim.failNext(1, '429');
    const first: Stripe.Refund[][] = [];
    for await (const page of reader.refundsOf(payments[0]!.pi)) first.push(page);
    expect(first.flat()).toHaveLength(1);
    expect(reader.limiter!.rateFor('refunds.list')).toBeLessThan(reader.limiter!.rateFor('disputes.list'));

    const got = await reversalsOf(
      reader,
      payments.map((p) => ({ id: p.pi, created: p.created })),
    );
    expect([...got.values()].map((r) => r.refunds.length)).toEqual(payments.map(() => 1));
    expect(Object.fromEntries(reader.requestsByEndpoint)).toEqual({ 'refunds.list': 22, 'disputes.list': 20 });
    expect(sim.requests.filter((r) => r.status === 429)).toHaveLength(1);
  });
});

describe('mapping', () => {
  it('reads a status Stripe may add later as one that moves nothing, an appeal as withdrawn money', async () => {
    const p = pay(SINCE + HOUR);
    const refund = sim.store.refund(p.pi, 100)!;
    const stripe = createStripeClient({ apiKey: KEY, apiBase: sim.url });
    const raw = await stripe.refunds.retrieve(refund.id);
    expect(toRefundSnapshot(raw).status).toBe('succeeded');
    expect(toRefundSnapshot({ ...raw, status: 'something_new' }).status).toBe('pending');
    expect(toRefundSnapshot({ ...raw, status: null }).status).toBe('pending');

    const q = pay(SINCE + 2 * HOUR);
    const d = await stripe.disputes.retrieve(sim.store.openDispute(q.pi).id);
    expect(toDisputeSnapshot(d).status).toBe('needs_response');
    expect(toDisputeSnapshot({ ...d, status: 'appeal_needs_response' }).status).toBe('needs_response');
    expect(toDisputeSnapshot({ ...d, status: 'appeal_under_review' }).status).toBe('under_review');
    expect(toDisputeSnapshot({ ...d, status: 'prevented' }).status).toBe('prevented');
    expect(toDisputeSnapshot({ ...d, status: 'something_new' }).status).toBe('warning_under_review');
  });

  it('takes the PaymentIntent from the object, else from its expanded charge', async () => {
    const p = pay(SINCE + HOUR);
    const refund = sim.store.refund(p.pi, 100)!;
    const stripe = createStripeClient({ apiKey: KEY, apiBase: sim.url });
    const plain = await stripe.refunds.retrieve(refund.id);
    expect(paymentIntentOf(plain)).toBe(p.pi);
    expect(paymentIntentOf({ ...plain, payment_intent: null })).toBeNull();
    const expanded = await stripe.refunds.retrieve(refund.id, { expand: ['charge'] });
    expect(paymentIntentOf({ ...expanded, payment_intent: null })).toBe(p.pi);
  });
});

describe('eventIds: what an incremental run reads', () => {
  it('names the payments as before, and the PaymentIntents whose refunds or disputes changed', async () => {
    const t = SINCE + DAY;
    // Events before the window are not read.
    clock.now = SINCE - DAY;
    const failed = pay(SINCE - 2 * DAY);
    const failing = sim.store.refund(failed.pi, 300, { created: SINCE - DAY })!;
    const disputed = pay(SINCE - 2 * DAY);
    const refunded = pay(SINCE - 2 * DAY);
    const pending = pay(SINCE - 2 * DAY);
    const settling = sim.store.refund(pending.pi, 100, { created: SINCE - DAY, status: 'pending' })!;
    clock.now = t;
    const paid = sim.store.createCheckoutPayment({ created: t, amount: 1000, clientReferenceId: '7' });
    sim.store.failRefund(failing.id, { at: t + 1 });
    const d = sim.store.openDispute(disputed.pi, { created: t + 2 });
    sim.store.closeDispute(d.id, 'won', t + 3);
    sim.store.refund(refunded.pi, undefined, { created: t + 4 });
    sim.store.settleRefund(settling.id, t + 5);

    const reader = newReader();
    const got = await eventIds(reader, WINDOW);
    // Payments: the new one (by its session: its PaymentIntent comes with it) and the fully refunded one.
    expect(new Set(got.payments)).toEqual(new Set([paid.session.id, refunded.pi]));
    expect(new Set(got.reversals)).toEqual(new Set([failed.pi, disputed.pi, refunded.pi, pending.pi]));
    expect(reader.requestsByEndpoint.get('events.list')).toBe(1);
    expect(new Set(await idsFromEvents(reader, WINDOW))).toEqual(new Set(got.payments));
  });
});
