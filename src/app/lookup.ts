import type Stripe from 'stripe';
import { UsageError } from '../errors.js';
import type { OpenDb } from '../ledger/db.js';
import type { LedgerRow, PaymentRecordRow } from '../ledger/schema.js';
import {
  baselineFor,
  customerIdOfUser,
  existingTables,
  ledgerEntriesForPayment,
  ledgerEntriesForUser,
  paymentHolding,
  type PaymentHolding,
  paymentRecordFor,
  paymentRecordsFor,
  reviewEntryFor,
  sessionKeys,
  userIdsRecordedForCustomer,
  usersByIds,
  usersOfCustomer,
  type UserInfo,
} from '../ledger/corrections.js';
import { loadUserDirectory, type UsersTable } from '../ledger/users.js';
import { appRefsFound, tableLabel, verifyAppTables } from '../ledger/app-ledger.js';
import { needsLineItems } from '../reconcile/credits.js';
import { decidePayment } from '../reconcile/decide.js';
import { sessionPayment } from '../reconcile/select.js';
import { explainMatch, type MatchStep } from '../reconcile/explain-match.js';
import type {
  Payment,
  PaymentDecision,
  PaymentIntentSnapshot,
  SessionSnapshot,
  UserDirectory,
} from '../reconcile/types.js';
import type { FirstPage, StripeReader } from '../stripe/reader.js';
import { fetchPaymentById, paymentIdKind, type FetchedPayment } from '../stripe/payment-by-id.js';
import { expandedIntent, toSessionSnapshot } from '../stripe/map.js';
import { isoSeconds } from '../when.js';
import { stripeReaderFor } from './stripe-reader.js';
import {
  heldFor,
  readReversals,
  reversalsOfUser,
  type ReversalHeld,
  type ReversalSeen,
  type UserReversalView,
} from './lookup-reversals.js';
import {
  openForReading,
  readBalance,
  resolveUser,
  toEntry,
  toReviewItem,
  type LedgerEntry,
  type ReviewItem,
  type SupportOptions,
} from './corrections.js';

/**
 * `lookup QUERY`: what Stripe says, what the matching chain makes of it, and what the ledger
 * holds, for one payment (cs_…, pi_…) or for a user (id, email or Stripe customer cus_…). Read-only: the database is
 * opened read-only and may be one the tool never touched.
 */

/** Each list asks Stripe for one page of this many (newest first); more is reported, not fetched. */
const LIST_LIMIT = 100;
/** Payments known only from the tool's record or the ledger are re-read from Stripe one by one, up to this many. */
const FETCH_LIMIT = 25;

interface SessionView {
  id: string;
  status: string;
  mode: string;
  paymentStatus: string;
  amountTotal: number | null;
  currency: string | null;
  created: string;
  clientReferenceId: string | null;
  customer: string | null;
  customerDetailsEmail: string | null;
  customerEmail: string | null;
  /** A hint for people, never used to match. */
  name: string | null;
  metadata: Record<string, string>;
}

interface PaymentIntentView {
  id: string;
  status: string;
  amount: number;
  amountReceived: number;
  currency: string;
  created: string;
  customer: string | null;
  receiptEmail: string | null;
  metadata: Record<string, string>;
  refunded: boolean;
  amountRefunded: number;
}

/** `paid`, `pending`, `refunded`, `subscription`, `setup`, `invoice` or `not_a_payment`. */
type StripeState = 'paid' | 'pending' | 'refunded' | 'subscription' | 'setup' | 'invoice' | 'not_a_payment';

interface StripeView {
  checkoutSession: SessionView | null;
  paymentIntent: PaymentIntentView | null;
  state: StripeState;
  /** Why it is not a payment, when it is not. */
  notPayment: string | null;
}

/** Review reasons about the amount, not the user: `assign` then needs `--credits`, the rules giving none it may take. */
const CREDIT_REASONS = new Set(['invalid_credits', 'no_credit_rule', 'amount_too_low']);

/** What the chain decides for the payment as if the ledger did not have it yet (reconcile's statuses; `would_credit` = it would credit). */
interface ChainView {
  status: PaymentDecision['status'];
  reason: string | null;
  /** What made the reason so (invalid_credits: the bad value), when there is more to say. */
  detail: string | null;
  userId: string | null;
  matchedBy: string | null;
  credits: number | null;
  creditRule: string | null;
  steps: MatchStep[];
  summary: string;
  /** The name Stripe saw: shown to people, never used to match. */
  name: string | null;
}

interface LedgerView {
  credited: boolean;
  /** Who has the payment's credits now (after any reassignment). */
  holderUserId: string | null;
  credits: number | null;
  /** Sum of the payment's entries: equal to `credits` when credited. */
  netCredits: number;
  reassignments: number;
  entries: LedgerEntry[];
}

interface PaymentRecordView {
  status: string;
  reason: string | null;
  userId: string | null;
  matchedBy: string | null;
  credits: number | null;
  lastSeenAt: string;
  lastRunId: number | null;
}

/** A refund or dispute of the payment as Stripe tells it, beside what the tool holds for it. */
type ReversalView = ReversalSeen & ReversalHeld;

export interface PaymentLookup {
  kind: 'payment';
  query: string;
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  amount: number | null;
  currency: string | null;
  paidAt: string | null;
  stripe: StripeView | null;
  chain: ChainView | null;
  ledger: LedgerView;
  review: ReviewItem | null;
  /**
   * The tool's own record of the payment: of every payment an apply run decided and did not credit
   * (pending, in review, skipped), and of those it had recorded before they were credited. A
   * credited payment's entry in `ledger` is its record (with how it was matched).
   */
  record: PaymentRecordView | null;
  /** Set when `baseline` recorded the payment as handled by other means (reconcile never credits it). */
  baseline: { until: string; baselinedAt: string; actor: string } | null;
  /** With a mapped ledger: the payment's ids the app's own table holds as references. */
  appLedger: { table: string; refs: string[] } | null;
  /** The PaymentIntent's refunds and disputes, oldest first (two requests to Stripe); empty when none. */
  reversals: ReversalView[];
  verdict: string;
}

interface UserPaymentRow {
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  paidAt: string | null;
  amount: number | null;
  currency: string | null;
  /** Where the payment was found: `record` (the tool's record), `stripe:email`, `stripe:customer`, `ledger`. */
  foundBy: string[];
  /** What Stripe says now; null when it was not re-read (beyond the per-lookup limit): see `record`. */
  stripe: StripeState | null;
  chain: {
    status: string;
    reason: string | null;
    userId: string | null;
    matchedBy: string | null;
    credits: number | null;
  } | null;
  ledger: { holderUserId: string; credits: number } | null;
  record: PaymentRecordView | null;
  /** What a person should notice (e.g. "paid, not credited"), or null when it is credited to this user. */
  note: string | null;
}

export interface UserLookup {
  kind: 'user';
  query: string;
  /** Null when the query is an email no user has (the payer may have no account, or another email). */
  user: UserInfo | null;
  emails: string[];
  customerIds: string[];
  balance: number;
  /** The user's ledger entries, newest first. */
  entries: LedgerEntry[];
  /** Newest first. */
  payments: UserPaymentRow[];
  /**
   * The user's refunds and disputes, newest first: those the ledger or the review queue holds for
   * the user, and those of the user's payments Stripe says were refunded (two requests each, for
   * up to FETCH_LIMIT payments); each with its reversal and reinstatement entries.
   */
  reversals: UserReversalView[];
  notes: string[];
}

export type LookupResult = PaymentLookup | UserLookup;

// ---------------------------------------------------------------------------------------------

function sessionView(s: SessionSnapshot): SessionView {
  return {
    id: s.id,
    status: s.status,
    mode: s.mode,
    paymentStatus: s.paymentStatus,
    amountTotal: s.amountTotal,
    currency: s.currency,
    created: isoSeconds(s.created),
    clientReferenceId: s.clientReferenceId,
    customer: s.customerId,
    customerDetailsEmail: s.customerDetailsEmail,
    customerEmail: s.customerEmail,
    name: s.customerName,
    metadata: s.metadata,
  };
}

function intentView(pi: PaymentIntentSnapshot): PaymentIntentView {
  return {
    id: pi.id,
    status: pi.status,
    amount: pi.amount,
    amountReceived: pi.amountReceived,
    currency: pi.currency,
    created: isoSeconds(pi.created),
    customer: pi.customerId,
    receiptEmail: pi.receiptEmail,
    metadata: pi.metadata,
    refunded: pi.refunded,
    amountRefunded: pi.amountRefunded,
  };
}

function stateOf(payment: Payment | null): StripeState {
  if (!payment) return 'not_a_payment';
  const mode = payment.session?.mode;
  if (mode === 'subscription' || mode === 'setup') return mode;
  if (payment.paysInvoice) return 'invoice';
  if (payment.session?.paymentStatus === 'unpaid') return 'pending';
  if (payment.paymentIntent?.refunded) return 'refunded';
  return 'paid';
}

function describeNotPayment(s: SessionSnapshot, pi: PaymentIntentSnapshot | null): string {
  if (s.status !== 'complete') return `the Checkout Session is ${s.status}`;
  if (s.paymentStatus === 'unpaid')
    return `the Checkout Session is unpaid and its PaymentIntent is ${pi?.status ?? 'missing'}`;
  return `the Checkout Session has payment_status ${s.paymentStatus}`;
}

function recordView(r: PaymentRecordRow | undefined): PaymentRecordView | null {
  if (!r) return null;
  return {
    status: r.status,
    reason: r.reason,
    userId: r.user_id,
    matchedBy: r.matched_by,
    credits: r.credits === null ? null : Number(r.credits),
    lastSeenAt: r.last_seen_at,
    lastRunId: r.last_run_id === null ? null : Number(r.last_run_id),
  };
}

function ledgerView(entries: readonly LedgerRow[]): LedgerView {
  const h = paymentHolding(entries);
  return {
    credited: h !== null,
    holderUserId: h?.holderUserId ?? null,
    credits: h?.credits ?? null,
    netCredits: entries.reduce((s, e) => s + Number(e.credits), 0),
    reassignments: h?.generation ?? 0,
    entries: entries.map(toEntry),
  };
}

/** The chain's decision as if the ledger did not have the payment: what reconcile would make of it today. */
function chainView(payment: Payment, users: UserDirectory, o: SupportOptions): ChainView {
  const cfg = o.settings.config;
  const customerColumn = cfg.users.stripeCustomerId !== null;
  const d = decidePayment(payment, { rules: cfg, users, customerColumn, isCredited: () => false, dryRun: true });
  const why = explainMatch(payment, users, cfg.match, customerColumn);
  return {
    status: d.status,
    reason: d.reason,
    detail: d.detail ?? null,
    userId: d.userId,
    matchedBy: d.matchedBy,
    credits: d.credits,
    creditRule: d.creditRule,
    steps: why.steps,
    summary: why.summary,
    name: d.name,
  };
}

/** Where the payment stands, in one sentence a support person can act on. */
function verdictOf(
  state: StripeState | null,
  notPayment: string | null,
  chain: ChainView | null,
  ledger: LedgerView,
  key: string,
  baseline: PaymentLookup['baseline'],
  appLedger: PaymentLookup['appLedger'],
): string {
  if (ledger.credited) {
    const moved = ledger.reassignments > 0 ? ` (reassigned ${ledger.reassignments}×)` : '';
    const other =
      chain?.userId && chain.userId !== ledger.holderUserId ? `; the chain alone would pick user ${chain.userId}` : '';
    return `credited: ${ledger.credits} credits with user ${ledger.holderUserId}${moved}${other}`;
  }
  if (appLedger && appLedger.refs.length > 0)
    return `credited by the app: ${appLedger.table} holds ${appLedger.refs.join(' and ')}; reconcile never credits it again`;
  if (baseline)
    return `baselined: recorded as handled by other means (payments up to ${baseline.until}, by ${baseline.actor}); reconcile never credits it`;
  if (state === null)
    return 'Stripe has no such object in this account and mode, and the ledger has no purchase for it';
  if (state === 'not_a_payment') return `not a payment: ${notPayment ?? ''}; nothing to credit`;
  if (!chain) return 'not credited';
  switch (chain.status) {
    case 'would_credit':
    case 'credited':
      return `paid, NOT credited yet: the chain matches user ${chain.userId} (${chain.credits} credits); the next reconcile whose window covers it credits it, or: stripe-credits assign ${key} --user ${chain.userId} --reason TEXT`;
    case 'needs_review':
      return `paid, NOT credited: needs a person (${chain.reason}${chain.detail ? `: ${chain.detail}` : ''}); credit it with: stripe-credits assign ${key} --user ${chain.userId ?? 'USER'} --reason TEXT${CREDIT_REASONS.has(chain.reason ?? '') ? ' --credits N' : ''}`;
    case 'pending':
      return 'not settled yet (pending): credited by a later reconcile once it succeeds';
    case 'skipped':
      return `not credited: skipped (${chain.reason})`;
    default:
      return `not credited (${chain.status})`;
  }
}

/** The database a lookup reads, with its users table as verified. */
interface Opened {
  open: OpenDb;
  users: UsersTable;
}

/** A Stripe customer id, looked up as the user it belongs to. */
const CUSTOMER_ID = /^cus_[A-Za-z0-9]+$/;

/** Runs a lookup: a payment for cs_…/pi_…, the customer's user for cus_…, a user (id or email) for anything else. */
export async function lookup(o: SupportOptions & { query: string }): Promise<LookupResult> {
  const q = o.query.trim();
  if (q === '') throw new UsageError('QUERY must not be blank', 'give a cs_… or pi_… id, a user id or an email');
  const isPayment = /^(cs|pi)_/.test(q);
  if (isPayment) paymentIdKind(q);
  const open = await openForReading(o);
  try {
    const users = await verifyAppTables(open.db, o.settings.config);
    const reader = stripeReaderFor(o.settings);
    const at = { open, users };
    if (isPayment) return await lookupPayment(o, at, reader, q);
    if (CUSTOMER_ID.test(q)) return await lookupCustomer(o, at, reader, q);
    return await lookupUser(o, at, reader, q, o.query);
  } finally {
    await open.close();
  }
}

async function lookupPayment(
  o: SupportOptions,
  { open, users }: Opened,
  reader: StripeReader,
  id: string,
): Promise<PaymentLookup> {
  const tables = await existingTables(open.db);
  const fetched = await fetchPaymentById(reader, id, o.settings.config);
  const paymentKey =
    fetched?.payment?.paymentKey ??
    fetched?.session?.paymentIntentId ??
    fetched?.session?.id ??
    fetched?.paymentIntent?.id ??
    id;
  const ids = await idsOfPayment(open, tables, id, paymentKey, fetched);
  const held = await whatTheToolHolds(open, o, tables, ids);
  if (
    !fetched &&
    held.entries.length === 0 &&
    !held.review &&
    !held.record &&
    !held.baseline &&
    !held.appLedger?.refs.length
  ) {
    throw new UsageError(
      `neither Stripe nor the ledger knows ${id}`,
      'check the id, and that the key is for the right account and mode (test or live)',
    );
  }
  const chain = fetched?.payment ? await chainOfOne(open, users, o, fetched.payment) : null;
  const piId = fetched?.paymentIntent?.id ?? fetched?.session?.paymentIntentId ?? null;
  const reversals = piId ? await reversalsOfPayment(reader, open, tables, piId) : [];
  return { ...paymentLookupOf(id, paymentKey, fetched, held, chain), reversals };
}

/** The PaymentIntent's refunds and disputes from Stripe, each with its ledger entries and review entry. */
async function reversalsOfPayment(
  reader: StripeReader,
  open: OpenDb,
  tables: Set<string>,
  piId: string,
): Promise<ReversalView[]> {
  const found = await readReversals(reader, piId);
  if (found.length === 0) return [];
  const { held } = await heldFor(
    open,
    tables,
    found.map((f) => f.id),
  );
  return found
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1))
    .map((f) => ({ ...f, ...held(f.id) }));
}

/** Every id the payment may be filed under: the one asked for, those Stripe told, and those the tables hold for a session. */
async function idsOfPayment(
  open: OpenDb,
  tables: Set<string>,
  id: string,
  paymentKey: string,
  fetched: FetchedPayment | null,
): Promise<string[]> {
  const session = fetched?.session ?? null;
  const known = [id, paymentKey, session?.id, fetched?.paymentIntent?.id, session?.paymentIntentId].filter(
    (x): x is string => typeof x === 'string',
  );
  // A session id whose PaymentIntent Stripe did not tell (no such session here, or none paid yet):
  // the payment keys the ledger and record hold for it, read from the tables whole.
  const viaTables = id.startsWith('cs_') && !session?.paymentIntentId ? await sessionKeys(open.db, [id], tables) : [];
  return [...new Set([...known, ...viaTables])];
}

/** What the tool's tables (and a mapped app ledger) hold about one payment. */
interface HeldAboutPayment {
  entries: LedgerRow[];
  review: ReviewItem | null;
  record: PaymentRecordView | null;
  baseline: PaymentLookup['baseline'];
  appLedger: PaymentLookup['appLedger'];
}

async function whatTheToolHolds(
  open: OpenDb,
  o: SupportOptions,
  tables: Set<string>,
  ids: string[],
): Promise<HeldAboutPayment> {
  const entries = tables.has('credit_ledger') ? await ledgerEntriesForPayment(open.db, ids) : [];
  const reviewRow = tables.has('stripe_credits_review') ? await reviewEntryFor(open.db, ids) : undefined;
  let review: ReviewItem | null = null;
  if (reviewRow) {
    const candidates = JSON.parse(reviewRow.candidate_user_ids || '[]') as string[];
    review = toReviewItem(
      reviewRow,
      candidates.length ? await usersByIds(open.db, o.settings.config.users, candidates) : new Map(),
    );
  }
  const record = tables.has('stripe_credits_payments') ? recordView(await paymentRecordFor(open.db, ids)) : null;
  const baselined = tables.has('stripe_credits_baseline') ? await baselineFor(open.db, ids) : undefined;
  const baseline = baselined
    ? { until: baselined.until, baselinedAt: baselined.baselined_at, actor: baselined.actor }
    : null;
  const mapped = o.settings.config.ledger;
  const appLedger = mapped
    ? { table: tableLabel(mapped), refs: [...(await appRefsFound(open.db, mapped, ids))] }
    : null;
  return { entries, review, record, baseline, appLedger };
}

async function chainOfOne(
  open: OpenDb,
  usersTable: UsersTable,
  o: SupportOptions,
  payment: Payment,
): Promise<ChainView> {
  const users = await loadUserDirectory(open.db, usersTable, o.settings.config.match, [payment], { everyStep: true });
  return chainView(payment, users, o);
}

function paymentLookupOf(
  id: string,
  paymentKey: string,
  fetched: FetchedPayment | null,
  held: HeldAboutPayment,
  chain: ChainView | null,
): Omit<PaymentLookup, 'reversals'> {
  const payment = fetched?.payment ?? null;
  const session = fetched?.session ?? null;
  const pi = fetched?.paymentIntent ?? null;
  const first = held.entries[0];
  const stripe: StripeView | null = fetched
    ? {
        checkoutSession: session ? sessionView(session) : null,
        paymentIntent: pi ? intentView(pi) : null,
        state: stateOf(payment),
        notPayment: fetched.notPayment,
      }
    : null;
  const amount = payment
    ? payment.session
      ? payment.session.amountTotal
      : (payment.paymentIntent?.amountReceived ?? null)
    : (session?.amountTotal ?? pi?.amount ?? first?.amount ?? null);
  const ledger = ledgerView(held.entries);
  const { baseline, appLedger } = held;
  return {
    kind: 'payment',
    query: id,
    paymentKey,
    checkoutSession: session?.id ?? first?.checkout_session_id ?? null,
    paymentIntent: pi?.id ?? session?.paymentIntentId ?? first?.payment_intent_id ?? null,
    amount: amount === null ? null : Number(amount),
    currency: session?.currency ?? pi?.currency ?? first?.currency ?? null,
    paidAt: payment ? isoSeconds(payment.paidAt) : null,
    stripe,
    chain,
    ledger,
    review: held.review,
    record: held.record,
    baseline,
    appLedger,
    verdict: verdictOf(
      stripe?.state ?? null,
      stripe?.notPayment ?? null,
      chain,
      ledger,
      paymentKey,
      baseline,
      appLedger,
    ),
  };
}

interface Candidate {
  key: string;
  payment: Payment | null;
  session: SessionSnapshot | null;
  notPayment: string | null;
  foundBy: Set<string>;
  /** Re-read from Stripe in this lookup. */
  live: boolean;
}

/** The payments a user lookup has found so far, one per payment key, with every way each was found. */
class Candidates {
  private readonly byKey = new Map<string, Candidate>();

  all(): Candidate[] {
    return [...this.byKey.values()];
  }

  payments(): Payment[] {
    return this.all()
      .map((c) => c.payment)
      .filter((p): p is Payment => p !== null);
  }

  /** A payment found (again) `via` a way; what was re-read from Stripe replaces what was only recorded. */
  add(key: string, c: Omit<Candidate, 'key' | 'foundBy'>, via: string): void {
    const have = this.byKey.get(key);
    if (!have) {
      this.byKey.set(key, { key, ...c, foundBy: new Set([via]) });
      return;
    }
    have.foundBy.add(via);
    if (!have.live && c.live) Object.assign(have, c);
  }

  addSession(s: Stripe.Checkout.Session, via: string): void {
    const snap = toSessionSnapshot(s);
    const pi = expandedIntent(s);
    const payment = sessionPayment(snap, pi);
    const notPayment = payment ? null : describeNotPayment(snap, pi);
    this.add(
      payment?.paymentKey ?? snap.paymentIntentId ?? snap.id,
      { payment, session: snap, notPayment, live: true },
      via,
    );
  }

  /** Notes another way a known payment was found; false when the payment is not known yet. */
  seenAgain(key: string, via: string): boolean {
    const have = this.byKey.get(key);
    have?.foundBy.add(via);
    return have !== undefined;
  }
}

/** What the tool itself knows of a user: their customer ids, ledger entries and payment records. */
interface KnownLocally {
  customerIds: Set<string>;
  userEntries: LedgerRow[];
  records: PaymentRecordRow[];
}

async function lookupUser(
  o: SupportOptions,
  { open, users: usersTable }: Opened,
  reader: StripeReader,
  q: string,
  typed: string,
  customer?: CustomerOwner,
): Promise<UserLookup> {
  const cfg = o.settings.config;
  const tables = await existingTables(open.db);
  const user = customer ? customer.user : await findUser(open, o, q, typed);
  const emails = [
    ...new Set(
      [user?.email ?? (user ? null : q)].filter((x): x is string => !!x && x.trim() !== '').map((e) => e.trim()),
    ),
  ];
  const notes: string[] = [];
  const local = await knownLocally(open, o, tables, user, emails);
  if (customer) {
    local.customerIds.add(customer.id);
    notes.push(`Stripe customer ${customer.id} is user ${customer.user.id}'s (${customer.via})`);
  }
  const found = new Candidates();
  const standalone = await listFromStripe(reader, found, emails, local.customerIds, notes);
  await rereadFromStripe(reader, o, found, toReread(found, standalone, local), notes);
  const payments = found.payments();
  await withLineItems(reader, o, payments);
  const directory = await loadUserDirectory(open.db, usersTable, cfg.match, payments, { everyStep: true });
  const rows = await paymentRows(open, o, tables, found, local.records, directory, user);
  return {
    kind: 'user',
    query: customer?.id ?? q,
    user,
    emails,
    customerIds: [...local.customerIds],
    balance: user ? await readBalance(open.db, cfg, user.id, tables.has('credit_ledger')) : 0,
    entries: local.userEntries.map(toEntry),
    payments: rows,
    reversals: user ? await userReversals(reader, { open, tables, user, local, found, rows, notes }) : [],
    notes,
  };
}

/** The one user a Stripe customer id belongs to, and how that was found. */
interface CustomerOwner {
  id: string;
  user: UserInfo;
  via: string;
}

/**
 * `lookup cus_…`: the user lookup of the user the customer belongs to. Known from the users
 * table's customer column when configured, else from the payments the tool recorded as paid by
 * the customer, else from the customer's payments in Stripe as the matching chain assigns them.
 */
async function lookupCustomer(o: SupportOptions, at: Opened, reader: StripeReader, id: string): Promise<UserLookup> {
  const cfg = o.settings.config;
  const tables = await existingTables(at.open.db);
  let via = `users.${cfg.users.stripeCustomerId ?? ''}`;
  let owners = await usersOfCustomer(at.open.db, cfg.users, id);
  if (owners.length === 0) {
    via = "the ledger and the tool's payment records";
    owners = await usersOrLedgerOnly(o, at, await userIdsRecordedForCustomer(at.open.db, tables, id));
  }
  let seen = 0;
  if (owners.length === 0) {
    via = "the customer's payments in Stripe, as the matching chain assigns them";
    const fromStripe = await usersOfCustomerInStripe(o, at, reader, id);
    seen = fromStripe.payments;
    owners = await usersOrLedgerOnly(o, at, fromStripe.userIds);
  }
  if (owners.length > 1) {
    throw new UsageError(
      `Stripe customer ${id} belongs to ${owners.length} users (by ${via}): ${owners.map(describeOwner).join('; ')}`,
      'look up one of them by user id',
    );
  }
  const user = owners[0];
  if (!user) {
    const paid = seen > 0 ? `; Stripe has ${seen} payments of it that match no user` : '; Stripe has no payment of it';
    throw new UsageError(
      `no user is known for Stripe customer ${id}${paid}`,
      seen > 0
        ? 'look up one of its payments (cs_… or pi_…) to see why it matches nobody'
        : 'check the id, and that the key is for the right account and mode (test or live)',
    );
  }
  return lookupUser(o, at, reader, user.id, user.id, { id, user, via });
}

function describeOwner(u: UserInfo): string {
  return u.email ? `${u.id} (${u.email})` : u.id;
}

/** Users by id; an id the users table no longer has is still shown as ledger-only, as resolveUser does. */
async function usersOrLedgerOnly(o: SupportOptions, { open }: Opened, ids: string[]): Promise<UserInfo[]> {
  if (ids.length === 0) return [];
  const found = await usersByIds(open.db, o.settings.config.users, ids);
  return ids.map((u) => found.get(u) ?? { id: u, email: null, name: null });
}

/**
 * The users the customer's newest payments in Stripe belong to: the ledger's holder when credited,
 * else the user the matching chain picks. One page of each list; standalone PaymentIntents are
 * read one by one up to FETCH_LIMIT.
 */
async function usersOfCustomerInStripe(
  o: SupportOptions,
  { open, users }: Opened,
  reader: StripeReader,
  id: string,
): Promise<{ userIds: string[]; payments: number }> {
  const notes: string[] = [];
  const found = new Candidates();
  const standalone = await listFromStripe(reader, found, [], new Set([id]), notes);
  const wanted = standalone.map((pi) => ({ key: pi, id: pi, via: 'stripe:customer' }));
  await rereadFromStripe(reader, o, found, wanted, notes);
  const payments = found.payments();
  await withLineItems(reader, o, payments);
  const directory = await loadUserDirectory(open.db, users, o.settings.config.match, payments, { everyStep: true });
  const tables = await existingTables(open.db);
  const ids = new Set<string>();
  for (const p of payments) {
    const keys = [p.paymentKey, p.session?.id, p.paymentIntent?.id].filter((x): x is string => !!x);
    const held = tables.has('credit_ledger') ? paymentHolding(await entriesForMany(open, keys)) : null;
    const userId = held?.holderUserId ?? chainView(p, directory, o).userId;
    if (userId) ids.add(userId);
  }
  return { userIds: [...ids].sort(), payments: payments.length };
}

/** The user's refunds and disputes (see UserLookup.reversals). */
function userReversals(
  reader: StripeReader,
  a: {
    open: OpenDb;
    tables: Set<string>;
    user: UserInfo;
    local: KnownLocally;
    found: Candidates;
    rows: UserPaymentRow[];
    notes: string[];
  },
): Promise<UserReversalView[]> {
  const refunded = new Set(
    a.found
      .payments()
      .filter((p) => (p.paymentIntent?.amountRefunded ?? 0) > 0)
      .map((p) => p.paymentIntent!.id),
  );
  return reversalsOfUser({
    reader,
    open: a.open,
    tables: a.tables,
    userId: a.user.id,
    userEntries: a.local.userEntries,
    payments: a.rows.map((r) => ({
      paymentIntent: r.paymentIntent,
      currency: r.currency,
      refunded: r.paymentIntent !== null && refunded.has(r.paymentIntent),
      mine: r.ledger?.holderUserId === a.user.id,
    })),
    limit: FETCH_LIMIT,
    notes: a.notes,
  });
}

async function findUser(open: OpenDb, o: SupportOptions, q: string, typed: string): Promise<UserInfo | null> {
  try {
    // The query as typed: an id is exact text (resolveUser tries it trimmed next).
    return await resolveUser(open, o.settings, typed, { allowLedgerOnly: true });
  } catch (e) {
    // An email nobody has is still worth a look: the payer may have no account, or used another address.
    if (!(e instanceof UsageError) || !q.includes('@') || /matches \d+ users/.test(e.message)) throw e;
    return null;
  }
}

async function knownLocally(
  open: OpenDb,
  o: SupportOptions,
  tables: Set<string>,
  user: UserInfo | null,
  emails: string[],
): Promise<KnownLocally> {
  // The user's Stripe customer ids: from the users table when configured, and those the tool saw on their payments.
  const customerIds = new Set<string>();
  if (user) {
    const cus = await customerIdOfUser(open.db, o.settings.config.users, user.id);
    if (cus) customerIds.add(cus);
  }
  // And those the user paid as: on their ledger entries (a credited payment's record is its entry)
  // and on their records.
  const userEntries = user && tables.has('credit_ledger') ? await ledgerEntriesForUser(open.db, user.id) : [];
  for (const e of userEntries) if (e.customer_id) customerIds.add(e.customer_id);
  let records: PaymentRecordRow[] = [];
  if (tables.has('stripe_credits_payments')) {
    records = await paymentRecordsFor(open.db, { userId: user?.id ?? null, emails, customerIds: [...customerIds] });
    for (const r of records) if (r.customer_id && user && r.user_id === user.id) customerIds.add(r.customer_id);
  }
  return { customerIds, userEntries, records };
}

function firstPage<T>(page: FirstPage<T>, notes: string[]): T[] {
  if (page.hasMore) notes.push(`${page.what}: more than ${LIST_LIMIT}; only the newest ${LIST_LIMIT} are shown`);
  return page.data;
}

/**
 * The live queries Stripe supports: Checkout Sessions by customer_details[email] and by customer,
 * PaymentIntents by customer (it cannot list by client_reference_id or metadata: the record covers
 * those). Returns the customers' PaymentIntents no session stands for, to be read one by one.
 */
async function listFromStripe(
  reader: StripeReader,
  found: Candidates,
  emails: string[],
  customerIds: Set<string>,
  notes: string[],
): Promise<string[]> {
  const emailVariants = [...new Set(emails.flatMap((e) => [e, e.toLowerCase()]))];
  for (const email of emailVariants) {
    const sessions = firstPage(await reader.completeSessionsOf({ email }, LIST_LIMIT), notes);
    for (const s of sessions) found.addSession(s, 'stripe:email');
  }
  const standalone: string[] = [];
  for (const customer of customerIds) {
    const sessions = firstPage(await reader.completeSessionsOf({ customer }, LIST_LIMIT), notes);
    for (const s of sessions) found.addSession(s, 'stripe:customer');
    for (const pi of firstPage(await reader.paymentIntentsOf(customer, LIST_LIMIT), notes)) {
      if (found.seenAgain(pi.id, 'stripe:customer')) continue;
      if (pi.status === 'succeeded' || pi.status === 'processing') standalone.push(pi.id);
    }
  }
  return standalone;
}

const REVERSAL_KINDS = new Set(['reversal', 'reinstatement']);

interface ToReread {
  key: string;
  id: string;
  via: string;
}

/** Payments known only locally (the record, the ledger) and standalone PaymentIntents, newest first. */
function toReread(found: Candidates, standalone: string[], local: KnownLocally): ToReread[] {
  const known = new Map<string, { via: string; id: string; paidAt: string }>();
  for (const r of local.records)
    known.set(r.payment_key, {
      via: 'record',
      id: r.checkout_session_id ?? r.payment_intent_id ?? r.payment_key,
      paidAt: r.paid_at,
    });
  for (const e of local.userEntries) {
    // A reversal or reinstatement is keyed by its refund or dispute: its purchase names the payment.
    if (!e.payment_key || known.has(e.payment_key) || REVERSAL_KINDS.has(e.kind)) continue;
    known.set(e.payment_key, {
      via: 'ledger',
      id: e.checkout_session_id ?? e.payment_intent_id ?? e.payment_key,
      paidAt: e.created_at,
    });
  }
  const out: ToReread[] = standalone.map((id) => ({ key: id, id, via: 'stripe:customer' }));
  for (const [key, l] of [...known.entries()].sort((a, b) => (a[1].paidAt < b[1].paidAt ? 1 : -1))) {
    if (!found.seenAgain(key, l.via)) out.push({ key, id: l.id, via: l.via });
  }
  return out;
}

/** Re-reads each from Stripe, up to FETCH_LIMIT; the rest are shown as recorded. */
async function rereadFromStripe(
  reader: StripeReader,
  o: SupportOptions,
  found: Candidates,
  wanted: ToReread[],
  notes: string[],
): Promise<void> {
  if (wanted.length > FETCH_LIMIT)
    notes.push(
      `${wanted.length - FETCH_LIMIT} older payments known only from the tool's record or the ledger were not re-read from Stripe (shown as recorded)`,
    );
  for (const [i, f] of wanted.entries()) {
    if (i >= FETCH_LIMIT || !/^(cs_(test|live)_|pi_)[A-Za-z0-9]+$/.test(f.id)) {
      found.add(f.key, { payment: null, session: null, notPayment: null, live: false }, f.via);
      continue;
    }
    const got = await fetchPaymentById(reader, f.id, o.settings.config);
    if (!got) {
      const notPayment = 'Stripe has no such object in this account and mode';
      found.add(f.key, { payment: null, session: null, notPayment, live: false }, f.via);
    } else if (got.payment || f.via !== 'stripe:customer') {
      // (A customer's PaymentIntent that is not a payment under the policy is not this user's purchase.)
      const { payment, session, notPayment } = got;
      found.add(payment?.paymentKey ?? f.key, { payment, session, notPayment, live: true }, f.via);
    }
  }
}

/** The line items the credit rules need, for sessions listed without them. */
async function withLineItems(reader: StripeReader, o: SupportOptions, payments: Payment[]): Promise<void> {
  for (const p of payments) {
    if (p.session && p.session.lineItems === null && needsLineItems(p, o.settings.config.credits)) {
      p.session = { ...p.session, lineItems: await reader.listLineItems(p.session.id) };
    }
  }
}

/** One row per payment found, with what the ledger holds for it, newest first. */
async function paymentRows(
  open: OpenDb,
  o: SupportOptions,
  tables: Set<string>,
  found: Candidates,
  records: PaymentRecordRow[],
  directory: UserDirectory,
  user: UserInfo | null,
): Promise<UserPaymentRow[]> {
  const idsOf = (c: Candidate) => [c.key, c.session?.id, c.payment?.paymentIntent?.id].filter((x): x is string => !!x);
  const allIds = found.all().flatMap(idsOf);
  const ledgerRows = tables.has('credit_ledger') ? await entriesForMany(open, allIds) : [];
  const recordByKey = new Map(records.map((r) => [r.payment_key, r]));
  const rows = found.all().map((c) => {
    const ids = new Set(idsOf(c));
    const mine = ledgerRows.filter((e) =>
      [e.payment_key, e.checkout_session_id, e.payment_intent_id].some((v) => v !== null && ids.has(v)),
    );
    const chain = c.payment ? chainView(c.payment, directory, o) : null;
    const row = paymentRow(c, paymentHolding(mine), recordByKey.get(c.key), chain);
    row.note = rowNote(row, user, c.notPayment);
    return row;
  });
  return rows.sort((a, b) =>
    (a.paidAt ?? '') < (b.paidAt ?? '')
      ? 1
      : (a.paidAt ?? '') > (b.paidAt ?? '')
        ? -1
        : a.paymentKey < b.paymentKey
          ? -1
          : 1,
  );
}

/** A found payment as a row: what Stripe said when re-read, else what the record and ledger hold. */
function paymentRow(
  c: Candidate,
  h: PaymentHolding | null,
  rec: PaymentRecordRow | undefined,
  chain: ChainView | null,
): UserPaymentRow {
  const p = c.payment;
  return {
    paymentKey: c.key,
    checkoutSession: c.session?.id ?? rec?.checkout_session_id ?? h?.purchase.checkout_session_id ?? null,
    paymentIntent:
      p?.paymentIntent?.id ??
      c.session?.paymentIntentId ??
      rec?.payment_intent_id ??
      h?.purchase.payment_intent_id ??
      null,
    paidAt: p ? isoSeconds(p.paidAt) : (rec?.paid_at ?? (c.session ? isoSeconds(c.session.created) : null)),
    amount: p
      ? p.session
        ? p.session.amountTotal
        : (p.paymentIntent?.amountReceived ?? null)
      : (c.session?.amountTotal ?? (rec?.amount == null ? null : Number(rec.amount))),
    currency: p?.session?.currency ?? p?.paymentIntent?.currency ?? c.session?.currency ?? rec?.currency ?? null,
    foundBy: [...c.foundBy].sort(),
    stripe: c.live ? stateOf(p) : null,
    chain: chain
      ? {
          status: chain.status,
          reason: chain.reason,
          userId: chain.userId,
          matchedBy: chain.matchedBy,
          credits: chain.credits,
        }
      : null,
    ledger: h ? { holderUserId: h.holderUserId, credits: h.credits } : null,
    record: recordView(rec),
    note: null,
  };
}

async function entriesForMany(open: OpenDb, ids: readonly string[]): Promise<LedgerRow[]> {
  const out: LedgerRow[] = [];
  const seen = new Set<number>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 300) {
    for (const e of await ledgerEntriesForPayment(open.db, unique.slice(i, i + 300))) {
      if (!seen.has(Number(e.id))) {
        seen.add(Number(e.id));
        out.push(e);
      }
    }
  }
  return out;
}

/** What to notice about one of a user's payments; null when it is credited to this user. */
function rowNote(r: UserPaymentRow, user: UserInfo | null, notPayment: string | null): string | null {
  if (r.ledger) {
    if (user && r.ledger.holderUserId === user.id) return null;
    return `credited to user ${r.ledger.holderUserId}`;
  }
  if (r.stripe === null) {
    if (notPayment) return notPayment;
    return r.record
      ? `not re-read from Stripe; last decided ${r.record.status}${r.record.reason ? ` (${r.record.reason})` : ''}`
      : 'not re-read from Stripe';
  }
  if (r.stripe === 'not_a_payment') return `not a payment: ${notPayment ?? ''}`;
  const c = r.chain;
  if (!c) return null;
  switch (c.status) {
    case 'would_credit':
    case 'credited':
      return user && c.userId !== user.id
        ? `paid, NOT credited; the chain matches user ${c.userId}`
        : 'paid, NOT credited yet (the chain matches this user)';
    case 'needs_review':
      return `paid, NOT credited: needs review (${c.reason})`;
    case 'pending':
      return 'pending: not settled yet';
    case 'skipped':
      return `not credited: skipped (${c.reason})`;
    default:
      return null;
  }
}
