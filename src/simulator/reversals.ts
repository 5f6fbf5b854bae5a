// Refunds and disputes of the simulator's charges: the objects, their life cycles and the events
// Stripe sends for each step. The store owns the collections and the event log; this module only
// reaches them through a ReversalHost, so that store.ts keeps to payments.
import type { Charge, LooseJson, Metadata, ObjectType, PaymentIntent } from './store.js';

export type RefundStatus = 'succeeded' | 'pending' | 'requires_action' | 'failed' | 'canceled';

export interface Refund {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string | null;
  charge: string;
  created: number;
  currency: string;
  customer: string | null;
  customer_account: string | null;
  failure_balance_transaction?: string;
  failure_reason?: string;
  metadata: Metadata;
  next_action?: {
    type: 'display_details';
    display_details: { email_sent: { email_sent_at: number; email_sent_to: string }; expires_at: number };
  };
  payment_intent: string | null;
  payment_method: string | null;
  pending_reason?: 'processing';
  reason: string | null;
  receipt_number: string | null;
  source_transfer_reversal: string | null;
  status: RefundStatus;
  transfer_reversal: string | null;
}

export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost';

export interface Dispute {
  id: string;
  object: 'dispute';
  amount: number;
  balance_transactions: unknown[];
  charge: string;
  created: number;
  currency: string;
  enhanced_eligibility_types: string[];
  evidence: Record<string, unknown>;
  evidence_details: {
    due_by: number | null;
    enhanced_eligibility: Record<string, unknown>;
    has_evidence: boolean;
    past_due: boolean;
    submission_count: number;
    submission_method: 'not_submitted' | 'manual';
  };
  intended_submission_method: null;
  is_charge_refundable: boolean;
  livemode: boolean;
  metadata: Metadata;
  payment_intent: string | null;
  payment_method_details: {
    type: 'card';
    card: { brand: string; case_type: 'chargeback' | 'inquiry'; network_reason_code: string | null };
  };
  reason: string;
  status: DisputeStatus;
}

export interface RefundOptions {
  id?: string;
  /** Unix seconds (negative: that many seconds before now()); default now(), but not before the charge. */
  created?: number;
  /** Where the refund starts; `pending` and `requires_action` ones count as refunded until they fail. */
  status?: 'succeeded' | 'pending' | 'requires_action';
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  metadata?: Metadata;
}

export interface DisputeOptions {
  id?: string;
  /** Default: what is left of the charge after its refunds. */
  amount?: number;
  /** Unix seconds (negative: before now()); default now(), but not before the charge. */
  created?: number;
  /** An inquiry (`warning_needs_response`) moves no money until it escalates; default a chargeback. */
  status?: 'needs_response' | 'warning_needs_response';
  reason?: string;
}

/**
 * A refund declared in a fixture: it is created at `created` and reaches `status` at `updated`
 * (default `created`). A `failed` one starts as `succeeded` (a card refund that fails later), a
 * `canceled` one as `requires_action` (the only kind Stripe cancels), and a `succeeded` one with a
 * later `updated` is `pending` until then. Times are Unix seconds, a negative one that many seconds
 * before now() (default now()).
 */
export interface RefundPlan {
  id?: string;
  amount?: number;
  created?: number;
  status?: RefundStatus;
  updated?: number;
  reason?: RefundOptions['reason'];
  failureReason?: string;
  metadata?: Metadata;
}

/**
 * A dispute declared in a fixture: opened at `created` (an inquiry when `status` starts with
 * `warning_`), and at `updated` (default `created`) moved to `status`: under review, or closed
 * (`won` after evidence, `lost`, `warning_closed`). Times as in RefundPlan.
 */
export interface DisputePlan {
  id?: string;
  amount?: number;
  created?: number;
  status?: DisputeStatus;
  updated?: number;
  reason?: string;
}

/** What the reversals need of the store. */
export interface ReversalHost {
  now(): number;
  /** A timestamp parameter: negative means that many seconds before now(). */
  time(t: number | undefined): number | undefined;
  /** The stored object of that type, or an error naming the id. */
  mustGet<T>(id: string, type: ObjectType): T;
  insert(type: ObjectType, obj: { id: string; created: number }): void;
  emit(type: string, obj: LooseJson, created: number, previous?: Record<string, unknown>, livemode?: boolean): void;
  newId(explicit: string | undefined, prefix: string, n: number): string;
}

const DAY = 86400;
const EVIDENCE_FIELDS = [
  'access_activity_log',
  'billing_address',
  'cancellation_policy',
  'cancellation_policy_disclosure',
  'cancellation_rebuttal',
  'customer_communication',
  'customer_email_address',
  'customer_name',
  'customer_purchase_ip',
  'customer_signature',
  'duplicate_charge_documentation',
  'duplicate_charge_explanation',
  'duplicate_charge_id',
  'product_description',
  'receipt',
  'refund_policy',
  'refund_policy_disclosure',
  'refund_refusal_explanation',
  'service_date',
  'service_documentation',
  'shipping_address',
  'shipping_carrier',
  'shipping_date',
  'shipping_documentation',
  'shipping_tracking_number',
  'uncategorized_file',
  'uncategorized_text',
];

/**
 * Applies `patch` (an undefined value removes the field) and returns what the patched fields were,
 * as an event's `previous_attributes` says it (null for a field that was absent).
 */
function change<T extends object>(obj: T, patch: Partial<T>): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  const o = obj as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined && o[k] === undefined) continue; // removing what is not there changes nothing
    previous[k] = o[k] ?? null;
    if (v === undefined) delete o[k];
    else o[k] = v;
  }
  return previous;
}

export class Reversals {
  /** Charge id -> its dispute (Stripe allows one a charge). */
  private readonly disputeOfCharge = new Map<string, string>();

  constructor(private readonly host: ReversalHost) {}

  /**
   * Refunds `amount` (default: the rest) of the PaymentIntent's latest charge, clamped to what is
   * left; null when nothing is. Events charge.refunded and refund.created.
   */
  refund(paymentIntentId: string, amount?: number, opts: RefundOptions = {}): Refund | null {
    if (amount !== undefined && (!Number.isInteger(amount) || amount < 0)) {
      throw new Error(`refund: amount must be a whole number of minor units, not ${amount}`);
    }
    const { pi, ch } = this.chargeOf(paymentIntentId);
    const disputeId = this.disputeOfCharge.get(ch.id);
    if (disputeId && !this.host.mustGet<Dispute>(disputeId, 'dispute').is_charge_refundable) {
      throw new Error(`Charge ${ch.id} has been charged back; cannot issue a refund.`);
    }
    const amt = Math.min(amount ?? ch.amount, ch.amount - ch.amount_refunded);
    if (amt <= 0) return null;
    const when = this.host.time(opts.created) ?? Math.max(this.host.now(), ch.created);
    const status = opts.status ?? 'succeeded';
    const refund: Refund = {
      id: this.host.newId(opts.id, 're_3', 23),
      object: 'refund',
      amount: amt,
      balance_transaction: this.host.newId(undefined, 'txn_3', 23),
      charge: ch.id,
      created: when,
      currency: ch.currency,
      customer: typeof ch.customer === 'string' ? ch.customer : null,
      customer_account: null,
      metadata: { ...(opts.metadata ?? {}) },
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      reason: opts.reason ?? null,
      receipt_number: null,
      source_transfer_reversal: null,
      status,
      transfer_reversal: null,
    };
    if (status === 'pending') refund.pending_reason = 'processing';
    if (status === 'requires_action') refund.next_action = this.nextAction(ch, when);
    this.host.insert('refund', refund);
    const previous = change(ch, {
      amount_refunded: ch.amount_refunded + amt,
      refunded: ch.amount_refunded + amt >= ch.amount,
    });
    this.host.emit('charge.refunded', ch, when, previous);
    this.host.emit('refund.created', refund, when, undefined, ch.livemode);
    return refund;
  }

  /** A `pending` or `requires_action` refund goes through: refund.updated, charge.refund.updated. */
  settleRefund(refundId: string, at?: number): Refund {
    const refund = this.openRefund(refundId, ['pending', 'requires_action'], 'succeed');
    const previous = change(refund, { status: 'succeeded', pending_reason: undefined, next_action: undefined });
    this.emitRefundUpdate(refund, previous, this.when(at, refund.created));
    return refund;
  }

  /**
   * A refund fails (also one that had succeeded: card refunds can fail later): the money goes back
   * on the charge. Events refund.updated, refund.failed, charge.refund.updated.
   */
  failRefund(refundId: string, opts: { reason?: string; at?: number } = {}): Refund {
    const refund = this.openRefund(refundId, ['succeeded', 'pending', 'requires_action'], 'fail');
    const previous = change(refund, {
      status: 'failed',
      failure_reason: opts.reason ?? 'expired_or_canceled_card',
      failure_balance_transaction: this.host.newId(undefined, 'txn_3', 23),
      pending_reason: undefined,
      next_action: undefined,
    });
    this.giveBack(refund);
    const at = this.when(opts.at, refund.created);
    this.emitRefundUpdate(refund, previous, at, 'refund.failed');
    return refund;
  }

  /** A refund that waits for the customer is canceled (Stripe cancels only `requires_action` ones). */
  cancelRefund(refundId: string, at?: number): Refund {
    const refund = this.openRefund(refundId, ['requires_action'], 'cancel');
    const previous = change(refund, { status: 'canceled', pending_reason: undefined, next_action: undefined });
    this.giveBack(refund);
    this.emitRefundUpdate(refund, previous, this.when(at, refund.created));
    return refund;
  }

  /**
   * A dispute of the PaymentIntent's charge: charge.disputed; events charge.dispute.created and, for
   * a chargeback, charge.dispute.funds_withdrawn.
   */
  openDispute(paymentIntentId: string, opts: DisputeOptions = {}): Dispute {
    const { pi, ch } = this.chargeOf(paymentIntentId);
    if (this.disputeOfCharge.has(ch.id)) throw new Error(`Charge ${ch.id} already has a dispute`);
    const amount = opts.amount ?? ch.amount - ch.amount_refunded;
    if (!Number.isInteger(amount) || amount <= 0 || amount > ch.amount) {
      throw new Error(`openDispute: no amount to dispute on charge ${ch.id} (${amount})`);
    }
    const status = opts.status ?? 'needs_response';
    const inquiry = status === 'warning_needs_response';
    const when = this.host.time(opts.created) ?? Math.max(this.host.now(), ch.created);
    const dispute: Dispute = {
      id: this.host.newId(opts.id, 'dp_1', 23),
      object: 'dispute',
      amount,
      balance_transactions: [],
      charge: ch.id,
      created: when,
      currency: ch.currency,
      enhanced_eligibility_types: [],
      evidence: { ...Object.fromEntries(EVIDENCE_FIELDS.map((k) => [k, null])), enhanced_evidence: {} },
      evidence_details: {
        due_by: when + 7 * DAY,
        enhanced_eligibility: {},
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        submission_method: 'not_submitted',
      },
      intended_submission_method: null,
      is_charge_refundable: inquiry,
      livemode: ch.livemode,
      metadata: {},
      payment_intent: pi.id,
      payment_method_details: {
        type: 'card',
        card: { brand: 'visa', case_type: inquiry ? 'inquiry' : 'chargeback', network_reason_code: '10.4' },
      },
      reason: opts.reason ?? 'fraudulent',
      status,
    };
    this.host.insert('dispute', dispute);
    this.disputeOfCharge.set(ch.id, dispute.id);
    ch.disputed = true;
    this.host.emit('charge.dispute.created', dispute, when);
    if (!inquiry) this.host.emit('charge.dispute.funds_withdrawn', dispute, when);
    return dispute;
  }

  /** Evidence submitted: needs_response → under_review (an inquiry: warning_under_review). */
  reviewDispute(disputeId: string, at?: number): Dispute {
    const d = this.dispute(disputeId, ['needs_response', 'warning_needs_response'], 'review');
    const previous = change(d, {
      status: d.status === 'needs_response' ? 'under_review' : 'warning_under_review',
      evidence_details: { ...d.evidence_details, has_evidence: true, submission_count: 1, submission_method: 'manual' },
    });
    this.host.emit('charge.dispute.updated', d, this.when(at, d.created), previous);
    return d;
  }

  /** An inquiry becomes a chargeback: needs_response, the funds are withdrawn, no refund any more. */
  escalateDispute(disputeId: string, at?: number): Dispute {
    const d = this.dispute(disputeId, ['warning_needs_response', 'warning_under_review'], 'escalate');
    const when = this.when(at, d.created);
    const previous = change(d, {
      status: 'needs_response',
      is_charge_refundable: false,
      evidence_details: { ...d.evidence_details, due_by: when + 7 * DAY },
      payment_method_details: { type: 'card', card: { ...d.payment_method_details.card, case_type: 'chargeback' } },
    });
    this.host.emit('charge.dispute.updated', d, when, previous);
    this.host.emit('charge.dispute.funds_withdrawn', d, when);
    return d;
  }

  /**
   * Closes a dispute: a chargeback `won` (funds reinstated) or `lost`, an inquiry `warning_closed`.
   * Event charge.dispute.closed (and charge.dispute.funds_reinstated when won).
   */
  closeDispute(disputeId: string, outcome: 'won' | 'lost' | 'warning_closed', at?: number): Dispute {
    const inquiry = outcome === 'warning_closed';
    const from: DisputeStatus[] = inquiry
      ? ['warning_needs_response', 'warning_under_review']
      : ['needs_response', 'under_review'];
    const d = this.dispute(disputeId, from, `close as ${outcome}`);
    const when = this.when(at, d.created);
    const previous = change(d, { status: outcome });
    this.host.emit('charge.dispute.closed', d, when, previous);
    if (outcome === 'won') this.host.emit('charge.dispute.funds_reinstated', d, when);
    return d;
  }

  /**
   * Plays a fixture's refunds and dispute of one PaymentIntent in the order of their times, so that
   * each step sees the charge as it was then (a dispute's default amount, a refund's remainder).
   */
  applyPlans(paymentIntentId: string, refunds: RefundPlan[] = [], dispute?: DisputePlan): void {
    const steps: Array<{ at: number; run: () => void }> = [];
    const time = (t: number | undefined) => this.host.time(t) ?? this.host.now();
    for (const plan of refunds) {
      const created = time(plan.created);
      const updated = plan.updated === undefined ? created : time(plan.updated);
      if (updated < created) throw new Error(`refund plan: updated (${updated}) is before created (${created})`);
      let id: string | undefined;
      const [start, finish] = this.refundSteps(plan, created < updated);
      steps.push({ at: created, run: () => (id = this.planRefund(paymentIntentId, plan, created, start)) });
      if (finish) steps.push({ at: updated, run: () => id && finish(id, updated) });
    }
    if (dispute) steps.push(...this.disputeSteps(paymentIntentId, dispute, time));
    steps.sort((a, b) => a.at - b.at); // stable: same-time steps in declaration order
    for (const s of steps) s.run();
  }

  // ----- internals

  private refundSteps(
    plan: RefundPlan,
    later: boolean,
  ): [RefundOptions['status'], ((id: string, at: number) => void) | null] {
    switch (plan.status ?? 'succeeded') {
      case 'succeeded':
        return later ? ['pending', (id, at) => this.settleRefund(id, at)] : ['succeeded', null];
      case 'pending':
        return ['pending', null];
      case 'requires_action':
        return ['requires_action', null];
      case 'failed':
        return ['succeeded', (id, at) => this.failRefund(id, { reason: plan.failureReason, at })];
      case 'canceled':
        return ['requires_action', (id, at) => this.cancelRefund(id, at)];
      default:
        throw new Error(`refund plan: unknown status ${String(plan.status)}`);
    }
  }

  private planRefund(piId: string, plan: RefundPlan, created: number, status: RefundOptions['status']): string {
    const r = this.refund(piId, plan.amount, {
      id: plan.id,
      created,
      status,
      reason: plan.reason,
      metadata: plan.metadata,
    });
    if (!r) throw new Error(`refund plan: nothing left to refund on ${piId}`);
    return r.id;
  }

  private disputeSteps(
    piId: string,
    plan: DisputePlan,
    time: (t: number | undefined) => number,
  ): Array<{ at: number; run: () => void }> {
    const status = plan.status ?? 'needs_response';
    const inquiry = status.startsWith('warning_');
    const created = time(plan.created);
    const updated = plan.updated === undefined ? created : time(plan.updated);
    if (updated < created) throw new Error(`dispute plan: updated (${updated}) is before created (${created})`);
    let id = '';
    const open = () => {
      const opts = { id: plan.id, amount: plan.amount, created, reason: plan.reason };
      id = this.openDispute(piId, { ...opts, status: inquiry ? 'warning_needs_response' : 'needs_response' }).id;
    };
    const then: Record<DisputeStatus, Array<() => void>> = {
      needs_response: [],
      warning_needs_response: [],
      under_review: [() => this.reviewDispute(id, updated)],
      warning_under_review: [() => this.reviewDispute(id, updated)],
      won: [() => this.reviewDispute(id, updated), () => this.closeDispute(id, 'won', updated)],
      lost: [() => this.closeDispute(id, 'lost', updated)],
      warning_closed: [() => this.closeDispute(id, 'warning_closed', updated)],
    };
    const after = then[status];
    if (!after) throw new Error(`dispute plan: unknown status ${String(plan.status)}`);
    return [{ at: created, run: open }, ...after.map((run) => ({ at: updated, run }))];
  }

  private chargeOf(paymentIntentId: string): { pi: PaymentIntent; ch: Charge } {
    const pi = this.host.mustGet<PaymentIntent>(paymentIntentId, 'payment_intent');
    const chargeId = typeof pi.latest_charge === 'string' ? pi.latest_charge : (pi.latest_charge?.id ?? null);
    if (!chargeId) throw new Error(`PaymentIntent ${paymentIntentId} has no charge`);
    return { pi, ch: this.host.mustGet<Charge>(chargeId, 'charge') };
  }

  private openRefund(refundId: string, from: RefundStatus[], what: string): Refund {
    const refund = this.host.mustGet<Refund>(refundId, 'refund');
    if (!from.includes(refund.status)) throw new Error(`Cannot ${what} refund ${refundId}: it is ${refund.status}`);
    return refund;
  }

  private dispute(disputeId: string, from: DisputeStatus[], what: string): Dispute {
    const d = this.host.mustGet<Dispute>(disputeId, 'dispute');
    if (!from.includes(d.status)) throw new Error(`Cannot ${what} dispute ${disputeId}: it is ${d.status}`);
    return d;
  }

  /** The refund's money is back on the charge (it failed or was canceled). */
  private giveBack(refund: Refund): void {
    const ch = this.host.mustGet<Charge>(refund.charge, 'charge');
    ch.amount_refunded = Math.max(0, ch.amount_refunded - refund.amount);
    ch.refunded = ch.amount_refunded >= ch.amount;
  }

  private emitRefundUpdate(refund: Refund, previous: Record<string, unknown>, at: number, extra?: string): void {
    const livemode = this.host.mustGet<Charge>(refund.charge, 'charge').livemode;
    this.host.emit('refund.updated', refund, at, previous, livemode);
    if (extra) this.host.emit(extra, refund, at, previous, livemode);
    this.host.emit('charge.refund.updated', refund, at, previous, livemode);
  }

  private nextAction(ch: Charge, at: number): Refund['next_action'] {
    const to = ch.receipt_email ?? 'customer@example.com';
    return {
      type: 'display_details',
      display_details: { email_sent: { email_sent_at: at, email_sent_to: to }, expires_at: at + 45 * DAY },
    };
  }

  /** An event time: `at` (negative: before now()), default now(), never before the object. */
  private when(at: number | undefined, created: number): number {
    return this.host.time(at) ?? Math.max(this.host.now(), created);
  }
}
