import type { CreditRuleName, CreditsConfig, Payment, ReviewReason } from './types.js';

export type CreditOutcome =
  | { ok: true; credits: number; rule: CreditRuleName }
  | { ok: false; reason: Extract<ReviewReason, 'invalid_credits' | 'no_credit_rule'>; detail?: string };

/** Long enough to recognise a value, short enough for a table cell (metadata values run to 500 characters). */
const SHOWN_VALUE = 40;

/** invalid_credits with the value that made it so: a person fixes the metadata, not the reason. */
function invalidMetadata(raw: string, key: string): CreditOutcome {
  const shown = raw.length > SHOWN_VALUE ? `${raw.slice(0, SHOWN_VALUE)}…` : raw;
  return {
    ok: false,
    reason: 'invalid_credits',
    detail: `${key} metadata ${JSON.stringify(shown)} is not a positive whole number`,
  };
}

const DIGITS = /^[0-9]+$/;

/** The metadata value that decides credits, if any: the session's first, else the PaymentIntent's. */
function metadataCredits(payment: Payment, key: string): string | undefined {
  const own = (m: Record<string, string> | undefined) =>
    m && Object.prototype.hasOwnProperty.call(m, key) ? m[key] : undefined;
  return own(payment.session?.metadata) ?? own(payment.paymentIntent?.metadata);
}

/** Whether deciding this payment's credits needs the session's line items (price rule). */
export function needsLineItems(payment: Payment, cfg: CreditsConfig): boolean {
  return (
    payment.session !== null &&
    Object.keys(cfg.prices).length > 0 &&
    metadataCredits(payment, cfg.metadataKey) === undefined
  );
}

/** The amount actually paid: a session's `amount_total`, a standalone PaymentIntent's `amount_received`. */
export function amountPaid(payment: Payment): { amount: number | null; currency: string | null } {
  if (payment.session) return { amount: payment.session.amountTotal, currency: payment.session.currency };
  const pi = payment.paymentIntent;
  return { amount: pi ? pi.amountReceived : null, currency: pi ? pi.currency : null };
}

/**
 * SPEC "How many credits": metadata, then price map, then amount per credit; the first rule that
 * applies decides. A cap above `maxCreditsPerPayment` makes the result invalid.
 */
export function computeCredits(payment: Payment, cfg: CreditsConfig, maxCreditsPerPayment: number): CreditOutcome {
  const outcome = firstRule(payment, cfg);
  if (outcome.ok && outcome.credits > maxCreditsPerPayment) {
    const detail = `${outcome.credits} credits (${outcome.rule} rule) is over maxCreditsPerPayment (${maxCreditsPerPayment})`;
    return { ok: false, reason: 'invalid_credits', detail };
  }
  return outcome;
}

/**
 * `credits.minAmountPerCredit` (SPEC step 6): whether a payment pays less than the credits a
 * metadata or price rule gave it cost at the configured floor (a 1-cent PaymentIntent claiming
 * 5,000 credits, a 100% coupon). The amount rule derives its credits from the amount paid, so it is
 * not checked; nor is a currency absent from the map, or a payment without amount or currency.
 */
export function amountTooLow(
  payment: Payment,
  credits: { credits: number; rule: CreditRuleName },
  cfg: CreditsConfig,
): boolean {
  const floor = cfg.minAmountPerCredit;
  if (!floor || credits.rule === 'unit_amount') return false;
  const { amount, currency } = amountPaid(payment);
  if (amount === null || currency === null) return false;
  const key = currency.toLowerCase();
  if (!Object.prototype.hasOwnProperty.call(floor, key)) return false;
  return amount < credits.credits * floor[key]!;
}

function firstRule(payment: Payment, cfg: CreditsConfig): CreditOutcome {
  const raw = metadataCredits(payment, cfg.metadataKey);
  if (raw !== undefined) {
    if (!DIGITS.test(raw)) return invalidMetadata(raw, cfg.metadataKey);
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) return invalidMetadata(raw, cfg.metadataKey);
    return { ok: true, credits: n, rule: 'metadata' };
  }

  const items = payment.session?.lineItems;
  if (items && items.length > 0 && Object.keys(cfg.prices).length > 0) {
    let total = 0;
    let applies = true;
    for (const item of items) {
      const per =
        item.priceId !== null && Object.prototype.hasOwnProperty.call(cfg.prices, item.priceId)
          ? cfg.prices[item.priceId]
          : undefined;
      if (per === undefined) {
        applies = false;
        break;
      }
      total += per * item.quantity;
    }
    if (applies) return { ok: true, credits: total, rule: 'prices' };
  }

  const { amount, currency } = amountPaid(payment);
  if (amount !== null && currency !== null) {
    const unit = cfg.unitAmountPerCredit[currency.toLowerCase()];
    if (unit !== undefined && unit > 0) return { ok: true, credits: Math.floor(amount / unit), rule: 'unit_amount' };
  }
  return { ok: false, reason: 'no_credit_rule' };
}
