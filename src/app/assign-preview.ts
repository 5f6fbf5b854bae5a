import { UsageError } from '../errors.js';
import { existingTables, ledgerEntriesForPayment, paymentHolding, sessionKeys } from '../ledger/corrections.js';
import { findCredited } from '../ledger/ledger.js';
import { assignPlan } from '../reconcile/assign.js';
import { openForReading, paymentToAssign, resolveUser, type AssignResult, type SupportOptions } from './corrections.js';

/** What `assign` would write for a payment and a user, without writing: the console shows it before a person confirms. */
export interface AssignPreview {
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  amount: number | null;
  currency: string | null;
  user: AssignResult['user'];
  credits: number;
  creditSource: AssignResult['creditSource'];
  /** The ledger holds it already: confirming would be refused (exit 3 in the CLI). */
  alreadyCredited: boolean;
}

/**
 * The same steps as assignPayment up to its plan (the user by id or email, the payment as Stripe
 * has it, the credit rules of assignPlan), on a read-only connection. The write itself stays
 * assignPayment's, which decides again: a payment credited between preview and confirm is refused there.
 */
export async function previewAssign(o: SupportOptions & { payment: string; user: string }): Promise<AssignPreview> {
  const open = await openForReading(o);
  try {
    const user = await resolveUser(open, o.settings, o.user);
    const payment = await paymentToAssign(o);
    const plan = assignPlan(payment, user, o.settings.config, null);
    if (!plan.ok) throw new UsageError(`${payment.paymentKey} ${plan.message}`, plan.hint);
    const d = plan.decision;
    return {
      paymentKey: d.paymentKey,
      checkoutSession: d.checkoutSession,
      paymentIntent: d.paymentIntent,
      amount: d.amount,
      currency: d.currency,
      user,
      credits: d.credits!,
      creditSource: plan.creditSource,
      alreadyCredited:
        (await existingTables(open.db)).has('credit_ledger') &&
        (await findCredited(open.db, [payment], o.settings.config.ledger)).size > 0,
    };
  } finally {
    await open.close();
  }
}

/** What `assign --reassign` would write: a reversal for the user who holds the payment, a credit for the new one. */
export interface ReassignPreview {
  paymentKey: string;
  credits: number;
  from: string;
  to: AssignResult['user'];
  /** The new user holds it already: confirming writes nothing. */
  unchanged: boolean;
}

/**
 * The same reading as assignPayment's reassignment (the tool's own entries, no Stripe call), on a
 * read-only connection. The write stays assignPayment's, which reads the holder again in its transaction.
 */
export async function previewReassign(o: SupportOptions & { payment: string; user: string }): Promise<ReassignPreview> {
  const open = await openForReading(o);
  try {
    const to = await resolveUser(open, o.settings, o.user);
    const tables = await existingTables(open.db);
    const known = tables.has('credit_ledger') ? [o.payment, ...(await sessionKeys(open.db, [o.payment], tables))] : [];
    const holding = known.length ? paymentHolding(await ledgerEntriesForPayment(open.db, known)) : null;
    if (!holding)
      throw new UsageError(
        `${o.payment} is not credited to anyone by stripe-credits: there is nothing to reassign`,
        'credit it with Assign instead',
      );
    return {
      paymentKey: holding.purchase.payment_key ?? o.payment,
      credits: holding.credits,
      from: holding.holderUserId,
      to,
      unchanged: holding.holderUserId === to.id,
    };
  } finally {
    await open.close();
  }
}
