import { UsageError } from '../errors.js';
import { existingTables } from '../ledger/corrections.js';
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
