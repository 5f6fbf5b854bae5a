import { needsLineItems } from '../reconcile/credits.js';
import { standaloneCounts } from '../reconcile/select.js';
import type { CreditsConfig, MatchConfig, Payment, PaymentIntentSnapshot } from '../reconcile/types.js';
import { mapLimit, type StripeReader } from './reader.js';

/** The parts of the config that say which Stripe objects are payments and what is read of them. */
export interface FetchRules {
  match: MatchConfig;
  credits: CreditsConfig;
}

/** With a price map, sessions are read with their line items: one request instead of one more per session. */
export function expandsLineItems(rules: FetchRules): boolean {
  return Object.keys(rules.credits.prices).length > 0;
}

/** Whether a PaymentIntent no session owns counts as a payment under `match.standalonePaymentIntents`. */
export function countsAlone(pi: PaymentIntentSnapshot, rules: FetchRules): boolean {
  return standaloneCounts(pi, rules.match.standalonePaymentIntents, rules.credits.metadataKey, rules.match.userIdKeys);
}

/**
 * Reads the line items of the payments whose credits need them and whose session came without
 * them (more than a listing holds), eight at a time; each such payment gets a session with them.
 */
export async function fillLineItems(
  reader: StripeReader,
  payments: readonly Payment[],
  rules: FetchRules,
): Promise<void> {
  const need = payments.filter((p) => p.session?.lineItems === null && needsLineItems(p, rules.credits));
  await mapLimit(need, 8, async (p) => {
    if (p.session) p.session = { ...p.session, lineItems: await reader.listLineItems(p.session.id) };
  });
}
