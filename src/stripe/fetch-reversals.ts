import type Stripe from 'stripe';
import type { DisputeSnapshot, RefundSnapshot, Window } from '../reconcile/types.js';
import { paymentIntentOf, toDisputeSnapshot, toRefundSnapshot } from './map.js';
import { mapLimit, type Progress, type StripeReader } from './reader.js';
import { DEFAULT_SCAN, scanCreated, type ScanOptions } from './scan.js';

/** Refunds and disputes of one PaymentIntent, as the core takes them (PaymentReversalInput). */
export interface PaymentReversals {
  refunds: RefundSnapshot[];
  disputes: DisputeSnapshot[];
}

/** A PaymentIntent whose refunds and disputes are wanted, with its `created` when known. */
export interface IntentRef {
  id: string;
  created?: number;
}

export interface ReversalSweepOptions {
  progress?: Progress;
  scan?: ScanOptions;
}

/**
 * What a window's lists of refunds and disputes showed: for each PaymentIntent they touched, the
 * refunds and disputes created in the window.
 */
export class SweptReversals {
  readonly byIntent = new Map<string, PaymentReversals>();
  /** Refunds and disputes of a charge made without a PaymentIntent: no payment of this tool's. */
  unlinked = 0;

  constructor(readonly window: Window) {}

  add(piId: string | null, item: { refund: RefundSnapshot } | { dispute: DisputeSnapshot }): void {
    if (piId === null) {
      this.unlinked += 1;
      return;
    }
    let of = this.byIntent.get(piId);
    if (!of) this.byIntent.set(piId, (of = { refunds: [], disputes: [] }));
    if ('refund' in item) of.refunds.push(item.refund);
    else of.disputes.push(item.dispute);
  }

  /**
   * Whether the lists hold ALL of this PaymentIntent's refunds and disputes (up to the window's
   * `until`): a refund or dispute comes after the charge, so one of a PaymentIntent created in the
   * window was created in the window too. Exact only if the sweep's window ends at the run's
   * `until`; a PaymentIntent of unknown age is never taken as covered.
   */
  covers(pi: IntentRef): boolean {
    return pi.created !== undefined && pi.created >= this.window.since;
  }

  /** What the lists showed of a PaymentIntent (nothing: empty lists). */
  of(piId: string): PaymentReversals {
    const seen = this.byIntent.get(piId);
    return seen ? { refunds: [...seen.refunds], disputes: [...seen.disputes] } : { refunds: [], disputes: [] };
  }
}

/**
 * Lists the refunds and the disputes created in the window, side by side and each cut into time
 * slices like the payment lists (scanCreated), on their own rate lanes ('refunds.list',
 * 'disputes.list'), so a caller runs it alongside fetchPayments over the same window.
 */
export async function sweepReversals(
  reader: StripeReader,
  window: Window,
  opts: ReversalSweepOptions = {},
): Promise<SweptReversals> {
  const swept = new SweptReversals(window);
  const range = { gte: window.since, lt: window.until };
  const scan = opts.scan ?? DEFAULT_SCAN;
  const progress = opts.progress ?? (() => {});
  const read = { refunds: 0, disputes: 0 };
  const tell = () => progress(`${read.refunds} refunds and ${read.disputes} disputes read`);
  await Promise.all([
    scanCreated<Stripe.Refund>(
      reader,
      'list refunds',
      'refunds.list',
      (created, startingAfter) => reader.listRefunds(created, startingAfter),
      range,
      (page) => {
        for (const r of page) swept.add(paymentIntentOf(r), { refund: toRefundSnapshot(r) });
        read.refunds += page.length;
        tell();
      },
      scan,
    ),
    scanCreated<Stripe.Dispute>(
      reader,
      'list disputes',
      'disputes.list',
      (created, startingAfter) => reader.listDisputes(created, startingAfter),
      range,
      (page) => {
        for (const d of page) swept.add(paymentIntentOf(d), { dispute: toDisputeSnapshot(d) });
        read.disputes += page.length;
        tell();
      },
      scan,
    ),
  ]);
  return swept;
}

export interface ReversalsOfOptions {
  /** A finished sweep of the run's window: PaymentIntents it covers cost no request. */
  swept?: SweptReversals;
  progress?: Progress;
}

/**
 * All the refunds and all the disputes of each PaymentIntent (every page of
 * `GET /v1/refunds?payment_intent=…` and `GET /v1/disputes?payment_intent=…`), eight PaymentIntents
 * at a time under the reader's limits; none for a PaymentIntent the sweep covers (SweptReversals.covers).
 */
export async function reversalsOf(
  reader: StripeReader,
  intents: readonly IntentRef[],
  opts: ReversalsOfOptions = {},
): Promise<Map<string, PaymentReversals>> {
  const out = new Map<string, PaymentReversals>();
  const ask = new Set<string>();
  for (const pi of intents) {
    if (out.has(pi.id) || ask.has(pi.id)) continue;
    if (opts.swept?.covers(pi)) out.set(pi.id, opts.swept.of(pi.id));
    else ask.add(pi.id);
  }
  let done = 0;
  await mapLimit([...ask], 8, async (id) => {
    out.set(id, await readAllOf(reader, id));
    done += 1;
    if (done % 50 === 0) opts.progress?.(`${done} of ${ask.size} payments' refunds and disputes read`);
  });
  return out;
}

/** Every refund and dispute of one PaymentIntent, both lists at once. */
async function readAllOf(reader: StripeReader, piId: string): Promise<PaymentReversals> {
  const refunds: RefundSnapshot[] = [];
  const disputes: DisputeSnapshot[] = [];
  await Promise.all([
    (async () => {
      for await (const page of reader.refundsOf(piId)) refunds.push(...page.map(toRefundSnapshot));
    })(),
    (async () => {
      for await (const page of reader.disputesOf(piId)) disputes.push(...page.map(toDisputeSnapshot));
    })(),
  ]);
  return { refunds, disputes };
}
