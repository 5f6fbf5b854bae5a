import { decidePayment, type DecideContext } from './decide.js';
import type { Payment, PaymentDecision } from './types.js';

export interface ReconcileCounts {
  payments: number;
  credited: number;
  wouldCredit: number;
  alreadyCredited: number;
  needsReview: number;
  pending: number;
  skipped: number;
}

export function emptyCounts(): ReconcileCounts {
  return { payments: 0, credited: 0, wouldCredit: 0, alreadyCredited: 0, needsReview: 0, pending: 0, skipped: 0 };
}

const COUNT_FIELD: Record<PaymentDecision['status'], keyof ReconcileCounts> = {
  credited: 'credited',
  would_credit: 'wouldCredit',
  already_credited: 'alreadyCredited',
  needs_review: 'needsReview',
  pending: 'pending',
  skipped: 'skipped',
};

export function countStatus(counts: ReconcileCounts, status: PaymentDecision['status']): void {
  counts.payments += 1;
  counts[COUNT_FIELD[status]] += 1;
}

/**
 * The plan of a run: one decision per payment, decided before anything is written. Only
 * `credited` decisions become ledger writes; `needs_review` ones go to the review queue.
 */
export interface ReconcilePlan {
  decisions: PaymentDecision[];
  /** Credits the plan would write (sum over credited / would_credit decisions). */
  creditsToWrite: number;
}

/** Decides every payment of a batch. Pure: the context carries what the adapters looked up. */
export function planPayments(payments: readonly Payment[], ctx: DecideContext): ReconcilePlan {
  const decisions: PaymentDecision[] = [];
  let creditsToWrite = 0;
  const seen = new Set<string>();
  for (const p of payments) {
    if (seen.has(p.paymentKey)) continue; // a payment is decided once, even if listed twice
    seen.add(p.paymentKey);
    const d = decidePayment(p, ctx);
    if (d.status === 'credited' || d.status === 'would_credit') creditsToWrite += d.credits ?? 0;
    decisions.push(d);
  }
  return { decisions, creditsToWrite };
}
