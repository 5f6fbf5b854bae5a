import { NO_LONGER_A_PAYMENT, type RecheckRecord } from '../ledger/ledger.js';
import { needsLineItems } from '../reconcile/credits.js';
import type { Payment } from '../reconcile/types.js';
import { countsAlone, type FetchRules } from '../stripe/fetch-rules.js';

/** The payments earlier runs left waiting, as a run decides them again. */
export interface RecheckSplit {
  /** Decided from what Stripe said of them when they were recorded: no request. */
  recorded: Payment[];
  /** Ids to re-read from Stripe: records without a usable snapshot, or every one on a window run. */
  reread: string[];
}

/**
 * An incremental run decides the waiting payments from their snapshots: a user created since, a
 * mapping or a rule changed needs nothing new from Stripe, and what Stripe changes (a settlement, a
 * refund) arrives as an event, whose payment the run has re-read before this. A window run re-reads
 * them all (an operator's full refresh), as does any run a record without a snapshot (written
 * before migration 0013, once: the re-read records one). A record a run found no payment any more
 * waits for an event (or a window run) naming it.
 */
export function splitRecheck(records: readonly RecheckRecord[], rules: FetchRules, fromRecord: boolean): RecheckSplit {
  const split: RecheckSplit = { recorded: [], reread: [] };
  for (const r of records) {
    if (fromRecord && r.snapshot === NO_LONGER_A_PAYMENT) continue;
    const p = fromRecord && r.snapshot !== null ? recordedPayment(r.snapshot) : null;
    if (!p || lacksLineItems(p, rules)) split.reread.push(r.id);
    // A standalone PaymentIntent the config no longer counts is no payment: a re-read would drop it too.
    else if (p.session !== null || (p.paymentIntent !== null && countsAlone(p.paymentIntent, rules)))
      split.recorded.push(p);
  }
  return split;
}

/** A session recorded without its line items while the credits now need them (a price map configured since). */
function lacksLineItems(p: Payment, rules: FetchRules): boolean {
  return p.session !== null && p.session.lineItems === null && needsLineItems(p, rules.credits);
}

/** The Payment a record's snapshot holds, or null when it does not parse as one (then it is re-read). */
function recordedPayment(json: string): Payment | null {
  try {
    const p = JSON.parse(json) as Partial<Payment> | null;
    const ok =
      p !== null &&
      typeof p === 'object' &&
      typeof p.paymentKey === 'string' &&
      typeof p.paidAt === 'number' &&
      typeof p.paysInvoice === 'boolean' &&
      (p.session === null || typeof p.session === 'object') &&
      (p.paymentIntent === null || typeof p.paymentIntent === 'object') &&
      (p.session !== null || p.paymentIntent !== null);
    return ok ? (p as Payment) : null;
  } catch {
    return null;
  }
}
