import type {
  DisputeSnapshot,
  PaymentReversalInput,
  RefundSnapshot,
  ReversalDecision,
  ReversalPolicy,
  ReversalsConfig,
  WrittenReversal,
} from './types.js';

/**
 * SPEC "Reversals": what each refund and dispute of one payment does to the ledger, given what the
 * ledger already holds. Deciding again after the entries were written yields `already_reversed`,
 * never a second entry: a refund or dispute id has at most one `reversal` and one `reinstatement`.
 */

export interface ReversalContext {
  policy: ReversalsConfig;
  dryRun: boolean;
  /** A person closed this refund's or dispute's review entry without reversing it. */
  isDismissed?(id: string): boolean;
}

/**
 * Where Stripe's money is for one refund or dispute: `taking` (a refund succeeded; a dispute is a
 * chargeback, open or lost: Stripe withdraws the disputed amount when the dispute is created, so
 * its reversal is due then, not when it closes), `pending` (a refund not settled yet, an inquiry
 * that may become a chargeback), `not_taken` (a refund failed or canceled, a dispute won, an
 * inquiry closed: the money stayed or came back).
 */
type MoneyState = 'taking' | 'pending' | 'not_taken';

interface ReversalEvent {
  id: string;
  source: 'refund' | 'dispute';
  amount: number;
  created: number;
  state: MoneyState;
}

const REFUND_STATE: Record<RefundSnapshot['status'], MoneyState> = {
  succeeded: 'taking',
  pending: 'pending',
  requires_action: 'pending',
  failed: 'not_taken',
  canceled: 'not_taken',
};

const DISPUTE_STATE: Record<DisputeSnapshot['status'], MoneyState> = {
  needs_response: 'taking',
  under_review: 'taking',
  lost: 'taking',
  warning_needs_response: 'pending',
  warning_under_review: 'pending',
  warning_closed: 'not_taken',
  won: 'not_taken',
  prevented: 'not_taken',
};

/** Refunds and disputes in one order, created then id, each once. */
function orderedEvents(input: PaymentReversalInput): ReversalEvent[] {
  const byId = new Map<string, ReversalEvent>();
  for (const r of input.refunds)
    byId.set(r.id, { id: r.id, source: 'refund', amount: r.amount, created: r.created, state: REFUND_STATE[r.status] });
  for (const d of input.disputes)
    byId.set(d.id, {
      id: d.id,
      source: 'dispute',
      amount: d.amount,
      created: d.created,
      state: DISPUTE_STATE[d.status],
    });
  return [...byId.values()].sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The payment's reversals in all once `refundedOrDisputed` of `paid` is gone: the proportion of the
 * credits, rounded down in the user's favour, never more than was credited (as a negative number).
 */
export function proportionalReversal(credited: number, refundedOrDisputed: number, paid: number): number {
  if (credited <= 0 || paid <= 0 || refundedOrDisputed <= 0) return 0;
  const taken = Math.min(refundedOrDisputed, paid);
  return 0 - Number((BigInt(credited) * BigInt(taken)) / BigInt(paid));
}

/** What the ledger holds for one id. */
interface Held {
  reversal: WrittenReversal | undefined;
  reinstatement: WrittenReversal | undefined;
}

function heldEntries(events: readonly ReversalEvent[], written: readonly WrittenReversal[]): Map<string, Held> {
  const held = new Map<string, Held>(events.map((e) => [e.id, { reversal: undefined, reinstatement: undefined }]));
  for (const w of written) {
    const h = held.get(w.id);
    // Each share is a difference of running totals over all refunds and disputes: one missing from
    // the input would shift every share after it, so a caller that forgot one is a bug, not a case.
    if (!h) throw new Error(`decideReversals: the ledger holds a ${w.kind} for ${w.id}, which is not in the input`);
    h[w.kind] = w;
  }
  return held;
}

/** One event before the running totals: a decision already made, or a claim on a share (`claim`). */
type Step =
  | { claim: false; event: ReversalEvent; decision: ReversalDecision; net: number; counts: boolean }
  | { claim: true; event: ReversalEvent };

export function decideReversals(input: PaymentReversalInput, ctx: ReversalContext): ReversalDecision[] {
  const events = orderedEvents(input);
  const held = heldEntries(events, input.written);
  const purchase = input.purchase;
  if (purchase === null) return events.map((e) => decision(input, e, null, 0, 'skipped', 'not_credited', 'reversal'));
  const steps = events.map((e) => classify(input, e, held.get(e.id)!, ctx));
  return shareOut(input, purchase.credits, steps, ctx);
}

function decision(
  input: PaymentReversalInput,
  e: ReversalEvent,
  userId: string | null,
  credits: number,
  status: ReversalDecision['status'],
  reason: ReversalDecision['reason'],
  kind: ReversalDecision['kind'],
): ReversalDecision {
  return { id: e.id, source: e.source, paymentKey: input.paymentKey, userId, credits, status, reason, kind };
}

function policyOf(e: ReversalEvent, ctx: ReversalContext): ReversalPolicy {
  return e.source === 'refund' ? ctx.policy.refunds : ctx.policy.disputes;
}

/** A step decided without the running totals. */
function settled(decision: ReversalDecision, e: ReversalEvent, net: number, counts: boolean): Step {
  return { claim: false, event: e, decision, net, counts };
}

/**
 * What an event is regardless of its share. `net` is what its entries add to the payment once
 * written, `counts` whether its amount is in the running total of money taken (a reinstated one is
 * not: the money came back).
 */
function classify(input: PaymentReversalInput, e: ReversalEvent, h: Held, ctx: ReversalContext): Step {
  const userId = input.purchase!.userId;
  if (h.reinstatement) {
    const d = decision(input, e, userId, h.reinstatement.credits, 'already_reversed', null, 'reinstatement');
    return settled(d, e, (h.reversal?.credits ?? 0) + h.reinstatement.credits, false);
  }
  if (h.reversal && e.state !== 'not_taken') {
    const d = decision(input, e, userId, h.reversal.credits, 'already_reversed', null, 'reversal');
    return settled(d, e, h.reversal.credits, true);
  }
  if (h.reversal) return reinstate(input, e, h.reversal, ctx);
  if (e.state === 'taking') return { claim: true, event: e };
  const reason = e.state === 'pending' ? 'pending' : 'not_taken';
  return settled(decision(input, e, userId, 0, 'skipped', reason, 'reversal'), e, 0, false);
}

/**
 * A refund that failed or was canceled, or a dispute won, after its reversal was written: exactly
 * that reversal's credits back. It restores what Stripe no longer took, so it needs no person
 * (`review` applies it as `debit` does); under `ignore` the tool leaves the reversal as it is.
 */
function reinstate(
  input: PaymentReversalInput,
  e: ReversalEvent,
  reversal: WrittenReversal,
  ctx: ReversalContext,
): Step {
  const userId = input.purchase!.userId;
  const credits = -reversal.credits;
  if (policyOf(e, ctx) === 'ignore')
    return settled(
      decision(input, e, userId, credits, 'skipped', 'ignored', 'reinstatement'),
      e,
      reversal.credits,
      false,
    );
  const status = ctx.dryRun ? 'would_reinstate' : 'reinstated';
  return settled(decision(input, e, userId, credits, status, null, 'reinstatement'), e, 0, false);
}

/**
 * The running totals, in order. A new reversal takes its share: the payment's target after it
 * (`proportionalReversal` of the money taken so far) less what the events before it hold. The last
 * new one takes what brings the whole payment to its target, so entries written out of order (a
 * later refund seen first) still sum exactly. A share not taken (ignored, dismissed, in review)
 * still counts as held: no other refund or dispute takes it instead.
 */
function shareOut(
  input: PaymentReversalInput,
  credited: number,
  steps: readonly Step[],
  ctx: ReversalContext,
): ReversalDecision[] {
  const amountOf = (s: Step) => (s.claim || s.counts ? s.event.amount : 0);
  const totalTaken = steps.reduce((sum, s) => sum + amountOf(s), 0);
  const target = proportionalReversal(credited, totalTaken, input.amountPaid);
  const lastClaim = steps.map((s) => s.claim).lastIndexOf(true);
  const netAfter = suffixNets(steps);
  const out: ReversalDecision[] = [];
  let taken = 0;
  let netBefore = 0;
  steps.forEach((s, i) => {
    taken += amountOf(s);
    if (!s.claim) {
      out.push(s.decision);
      netBefore += s.net;
      return;
    }
    const others = netBefore + (i === lastClaim ? netAfter[i + 1]! : 0);
    const raw = i === lastClaim ? target - others : proportionalReversal(credited, taken, input.amountPaid) - netBefore;
    const own = 0 + Math.min(0, Math.max(raw, -(credited + netBefore + netAfter[i + 1]!)));
    out.push(claimed(input, s.event, own, ctx));
    netBefore += own;
  });
  return out;
}

/** netAfter[i]: what the decided (non-claim) steps from i on hold. */
function suffixNets(steps: readonly Step[]): number[] {
  const out = new Array<number>(steps.length + 1).fill(0);
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    out[i] = out[i + 1]! + (s.claim ? 0 : s.net);
  }
  return out;
}

/** A new share, by policy. */
function claimed(input: PaymentReversalInput, e: ReversalEvent, own: number, ctx: ReversalContext): ReversalDecision {
  const userId = input.purchase!.userId;
  const made = (status: ReversalDecision['status'], reason: ReversalDecision['reason']) =>
    decision(input, e, userId, own, status, reason, 'reversal');
  if (own === 0) return made('skipped', 'nothing_to_reverse');
  const policy = policyOf(e, ctx);
  if (policy === 'ignore') return made('skipped', 'ignored');
  if (ctx.isDismissed?.(e.id)) return made('skipped', 'dismissed');
  if (policy === 'review')
    return made('needs_review', e.source === 'refund' ? 'refunded_after_credit' : 'disputed_after_credit');
  return made(ctx.dryRun ? 'would_reverse' : 'reversed', null);
}
