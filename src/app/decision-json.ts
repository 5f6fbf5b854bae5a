import type { PaymentDecision } from '../reconcile/types.js';
import { isoSeconds } from '../when.js';

/**
 * One payment's outcome as SPEC's JSON item (plus a few fields that help a person): an item of
 * `reconcile --json`, and what the library's `fulfill` and `handleWebhook` return.
 */
export type FulfilledItem = Pick<
  PaymentDecision,
  | 'paymentKey'
  | 'checkoutSession'
  | 'paymentIntent'
  | 'amount'
  | 'currency'
  | 'userId'
  | 'matchedBy'
  | 'credits'
  | 'status'
  | 'reason'
  | 'livemode'
  | 'creditRule'
  | 'unknownIds'
  | 'candidateUserIds'
> & {
  /** ISO 8601, whole seconds, UTC. */
  paidAt: string;
};

/** A decision as its JSON item; the field order is the one `reconcile --json` prints. */
export function jsonItem(d: PaymentDecision): FulfilledItem {
  return {
    paymentKey: d.paymentKey,
    checkoutSession: d.checkoutSession,
    paymentIntent: d.paymentIntent,
    amount: d.amount,
    currency: d.currency,
    userId: d.userId,
    matchedBy: d.matchedBy,
    credits: d.credits,
    status: d.status,
    reason: d.reason,
    paidAt: isoSeconds(d.paidAt),
    livemode: d.livemode,
    creditRule: d.creditRule,
    unknownIds: d.unknownIds,
    candidateUserIds: d.candidateUserIds,
  };
}
