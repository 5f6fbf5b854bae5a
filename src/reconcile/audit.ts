import { amountPaid, computeCredits } from './credits.js';
import { decidePayment } from './decide.js';
import { matchUser } from './match.js';
import { decideReversals } from './reversals.js';
import { sessionPayment, standalonePayment } from './select.js';
import type {
  AuditCode,
  AuditEntry,
  AuditFinding,
  AuditInput,
  Payment,
  RulesConfig,
  StripeLookup,
  UserDirectory,
} from './types.js';

/**
 * SPEC "Audit": whether Stripe backs one purchase entry of the ledger, by the same rules that
 * credit payments (select, decide, match, credits, reversals), read-only.
 */

export interface AuditContext {
  rules: RulesConfig;
  users: UserDirectory;
  /** The users table has a Stripe customer id column. */
  customerColumn: boolean;
  /** The ledger's mode: the key's (a live key audits a live ledger). */
  livemode: boolean;
  /** A person closed this refund's or dispute's review entry without reversing it: not a finding. */
  isDismissed?(id: string): boolean;
}

const NO_USERS: UserDirectory = { byId: () => undefined, byCustomer: () => [], byEmail: () => [] };
const NOTHING = { userId: null, credits: 0 };

const NOT_A_PURCHASE = {
  subscription: 'a subscription Checkout Session, not a credit purchase',
  setup: 'a setup Checkout Session, which takes no payment',
  invoice: 'a PaymentIntent that pays an invoice, not a credit purchase',
};

/**
 * The findings of one entry, in this order: `duplicate` (an entry after the payment's first);
 * `not_found`, `other_mode`, then for entries a machine wrote `not_paid` and
 * `not_a_credit_purchase` (each of these ends the checks: there is no payment to compare with);
 * then, for the payment's first entry only, `wrong_user`, `amount_differs`, `refunded`, `disputed`.
 * Entries written by a person are checked for existence, mode and duplicates only (SPEC).
 */
export function auditEntry(input: AuditInput, ctx: AuditContext): AuditFinding[] {
  const { entry } = input;
  const finding = (code: AuditCode, detail: string, expected: AuditFinding['expected']): AuditFinding => ({
    entryId: entry.entryId,
    userId: entry.userId,
    credits: entry.credits,
    paymentRef: entry.paymentRef,
    code,
    detail,
    expected,
  });
  const out: AuditFinding[] = [];
  const first = firstEntry(input);
  if (first) out.push(finding('duplicate', duplicateDetail(first), { userId: entry.userId, credits: 0 }));

  const mode = modeProblem(entry, input.stripe, ctx.livemode);
  if (mode) return [...out, finding(mode.code, mode.detail, NOTHING)];
  if (input.stripe.found !== 'object') return out; // modeProblem reports what is not an object
  if (entry.byPerson) return out;

  const payment = paymentOf(input.stripe);
  const gate = payment === null ? null : gateOf(payment, ctx.rules);
  if (payment === null || gate === 'pending')
    return [...out, finding('not_paid', notPaidDetail(input.stripe, gate), NOTHING)];
  if (gate !== null) return [...out, finding('not_a_credit_purchase', NOT_A_PURCHASE[gate], NOTHING)];
  if (first) return out;
  return [...out, ...paymentFindings(input, payment, ctx).map((f) => finding(f.code, f.detail, f.expected))];
}

/** The payment's first entry (by time, then id) when it is not this one. */
function firstEntry(input: AuditInput): AuditInput['samePayment'][number] | null {
  const ids = new Set([input.entry.paymentRef]);
  if (input.stripe.found === 'object') {
    const { session, paymentIntent } = input.stripe;
    for (const id of [session?.id, session?.paymentIntentId, paymentIntent?.id]) if (id) ids.add(id);
  }
  const same = [input.entry, ...input.samePayment].filter((e) => ids.has(e.paymentRef));
  same.sort((a, b) => a.createdAt - b.createdAt || (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
  return same[0]!.entryId === input.entry.entryId ? null : same[0]!;
}

function duplicateDetail(first: AuditInput['samePayment'][number]): string {
  return `the same payment was credited first by entry ${first.entryId} (${first.paymentRef})`;
}

/** `not_found`, or `other_mode`: Stripe's answer, the object's mode, the entry's recorded mode, a `cs_test_`/`cs_live_` id. */
function modeProblem(
  entry: AuditEntry,
  stripe: StripeLookup,
  livemode: boolean,
): { code: 'not_found' | 'other_mode'; detail: string } | null {
  const ledger = livemode ? 'live' : 'test';
  const other = livemode ? 'test' : 'live';
  const otherMode = { code: 'other_mode' as const, detail: `a ${other}-mode payment in a ${ledger}-mode ledger` };
  if (entry.livemode !== null && entry.livemode !== livemode) return otherMode;
  if (stripe.found === 'other_mode') return otherMode;
  if (stripe.found === 'none') {
    if (new RegExp(`^cs_${other}_`).test(entry.paymentRef)) return otherMode;
    return { code: 'not_found', detail: `Stripe has no Checkout Session or PaymentIntent ${entry.paymentRef}` };
  }
  const objectMode = stripe.session?.livemode ?? stripe.paymentIntent?.livemode;
  if (objectMode !== undefined && objectMode !== livemode) return otherMode;
  return null;
}

/** The payment the object stands for, as reconcile selects it; null when it never succeeded. */
function paymentOf(stripe: Extract<StripeLookup, { found: 'object' }>): Payment | null {
  const { session, paymentIntent: pi } = stripe;
  if (session) return sessionPayment(session, pi);
  if (pi && pi.status === 'succeeded') return standalonePayment(pi, stripe.paysInvoice);
  return null;
}

/**
 * SPEC "One status per payment", steps 2 and 3, taken from decidePayment itself (as assign does):
 * `subscription`, `setup`, `invoice`, `pending`, or null for a paid credit purchase.
 */
function gateOf(payment: Payment, rules: RulesConfig): 'subscription' | 'setup' | 'invoice' | 'pending' | null {
  const d = decidePayment(payment, {
    rules,
    users: NO_USERS,
    customerColumn: false,
    isCredited: () => false,
    dryRun: false,
  });
  if (d.status === 'pending') return 'pending';
  if (d.status === 'skipped' && (d.reason === 'subscription' || d.reason === 'setup' || d.reason === 'invoice'))
    return d.reason;
  return null;
}

function notPaidDetail(stripe: Extract<StripeLookup, { found: 'object' }>, gate: string | null): string {
  if (gate === 'pending') return 'its payment has not settled (the PaymentIntent is still processing)';
  const s = stripe.session;
  if (s) return `Checkout Session status ${s.status}, payment_status ${s.paymentStatus}`;
  return `PaymentIntent status ${stripe.paymentIntent?.status ?? 'unknown'}`;
}

type PaymentFinding = Pick<AuditFinding, 'code' | 'detail' | 'expected'>;

/** What the chain and the rules say today, and what refunds and disputes took since. */
function paymentFindings(input: AuditInput, payment: Payment, ctx: AuditContext): PaymentFinding[] {
  const { entry } = input;
  // By id or customer only (SPEC): an email may have changed hands since, an id has not.
  const match = matchUser(payment, ctx.users, { ...ctx.rules.match, byEmail: false }, ctx.customerColumn);
  const rules = computeCredits(payment, ctx.rules.credits, ctx.rules.maxCreditsPerPayment);
  const expected = {
    userId: match.ok ? match.user.id : entry.userId,
    credits: rules.ok ? rules.credits : entry.credits,
  };
  const out: PaymentFinding[] = [];
  if (match.ok && match.user.id !== entry.userId)
    out.push({
      code: 'wrong_user',
      detail: `the payment's ${match.matchedBy} names user ${match.user.id}, not ${entry.userId}`,
      expected,
    });
  if (rules.ok && rules.credits !== entry.credits)
    out.push({
      code: 'amount_differs',
      detail: `the ${rules.rule} rule gives ${rules.credits} credits, the entry holds ${entry.credits}`,
      expected,
    });
  return [...out, ...reversalFindings(input, payment, ctx)];
}

/**
 * `refunded` / `disputed`: what decideReversals, under `debit`, would still take back. A share a
 * person dismissed in review is not a finding; neither is one that rounds to 0 credits.
 */
function reversalFindings(input: AuditInput, payment: Payment, ctx: AuditContext): PaymentFinding[] {
  const { entry } = input;
  const decisions = decideReversals(
    {
      paymentKey: payment.paymentKey,
      purchase: { userId: entry.userId, credits: entry.credits },
      amountPaid: amountPaid(payment).amount ?? 0,
      refunds: input.refunds,
      disputes: input.disputes,
      written: input.reversals,
    },
    {
      policy: { refunds: 'debit', disputes: 'debit' },
      dryRun: true,
      ...(ctx.isDismissed ? { isDismissed: ctx.isDismissed } : {}),
    },
  );
  const pending = decisions.filter((d) => d.status === 'would_reverse' || d.status === 'would_reinstate');
  const backed =
    entry.credits + input.reversals.reduce((s, w) => s + w.credits, 0) + pending.reduce((s, d) => s + d.credits, 0);
  const out: PaymentFinding[] = [];
  for (const [source, code] of [
    ['refund', 'refunded'],
    ['dispute', 'disputed'],
  ] as const) {
    const due = pending.filter((d) => d.source === source && d.status === 'would_reverse');
    if (due.length === 0) continue;
    const taken = -due.reduce((s, d) => s + d.credits, 0);
    const ids = due.map((d) => d.id).join(', ');
    const detail = `${ids}: ${taken} credits to take back, no reversal written`;
    out.push({ code, detail, expected: { userId: entry.userId, credits: backed } });
  }
  return out;
}

/** SPEC's `audit --json` counts over the findings of each entry audited. */
export function auditCounts(perEntry: readonly (readonly AuditFinding[])[]): {
  entries: number;
  backed: number;
  findings: number;
} {
  return {
    entries: perEntry.length,
    backed: perEntry.filter((f) => f.length === 0).length,
    findings: perEntry.reduce((s, f) => s + f.length, 0),
  };
}
