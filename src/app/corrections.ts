import type { Settings } from '../config.js';
import { AttentionError, ConfigError, UsageError } from '../errors.js';
import { migrateToLatest, openDatabase, parseDbUrl, type OpenDb } from '../ledger/db.js';
import { findCredited, insertPurchases, ledgerModes, paymentIds, type Adoption } from '../ledger/ledger.js';
import { writeTransaction } from '../ledger/engine.js';
import type { Database, LedgerRow, ReviewRow } from '../ledger/schema.js';
import type { Kysely } from 'kysely';
import {
  balanceOf,
  dismissReviewEntry,
  existingTables,
  findUserCandidates,
  insertManual,
  insertReassignment,
  ledgerEntriesForPayment,
  ledgerEntriesForUser,
  openReviewEntries,
  paymentHolding,
  recordAssignment,
  resolveReviewOnAssign,
  reviewEntryFor,
  sessionKeys,
  userHasEntries,
  usersByIds,
  type PaymentHolding,
  type UserInfo,
} from '../ledger/corrections.js';
import { appBalance, appRefsFound, balanceSource, tableLabel, verifyAppTables } from '../ledger/app-ledger.js';
import { assignPlan } from '../reconcile/assign.js';
import type { CreditRuleName, Payment, PaymentDecision } from '../reconcile/types.js';
import { fetchPaymentById, paymentIdKind } from '../stripe/payment-by-id.js';
import { stripeReaderFor } from './stripe-reader.js';

/**
 * How people inspect and correct the ledger: the review queue, assign, adjust and balance (lookup
 * is in lookup.ts).
 * Commands that write migrate first; those that only read open the database read-only and work on
 * a database the tool never touched (no tables: nothing queued, no entries).
 */

export type { UserInfo };

export interface SupportOptions {
  settings: Settings;
  cwd: string;
}

export function openForReading(o: SupportOptions): Promise<OpenDb> {
  return openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: true });
}

/** A plan made on a read-only connection: what a console preview shows, with nothing written. */
export async function planReadOnly<T>(o: SupportOptions, plan: (open: OpenDb) => Promise<T>): Promise<T> {
  const open = await openForReading(o);
  try {
    return await plan(open);
  } finally {
    await open.close();
  }
}

function openForWriting(o: SupportOptions): Promise<OpenDb> {
  return openDatabase(parseDbUrl(o.settings.db, o.cwd), { readonly: false });
}

/** A required free-text flag (`--reason`, `--actor`): present and not blank. */
export function requireText(value: string | undefined, flag: string): string {
  const v = value?.trim() ?? '';
  if (v === '')
    throw new UsageError(
      `${flag} is required and must not be blank`,
      `say why, e.g. ${flag} "customer emailed, paid with a work address"`,
    );
  return v;
}

/** `--credits`: a whole number, signed for `adjust` (`+50`, `-20`), positive for `assign`; never 0. */
export function parseCredits(raw: string, opts: { signed: boolean }): number {
  const s = raw.trim();
  const shape = opts.signed ? /^[+-]?\d+$/ : /^\+?\d+$/;
  const n = Number(s);
  if (!shape.test(s) || !Number.isSafeInteger(n)) {
    throw new UsageError(
      `--credits must be a ${opts.signed ? 'whole number, + or -' : 'positive whole number'}, not '${raw}'`,
      opts.signed ? 'e.g. --credits 50 or --credits -20' : 'e.g. --credits 100',
    );
  }
  if (n === 0) throw new UsageError('--credits 0 changes nothing: give a number of credits other than 0');
  if (!opts.signed && n < 0)
    throw new UsageError(`--credits must be positive for assign, not '${raw}'`, 'to take credits away, use adjust');
  return n;
}

function describeUser(u: UserInfo): string {
  const bits = [u.email, u.name ? `"${u.name}"` : null].filter(Boolean);
  return bits.length ? `${u.id} (${bits.join(', ')})` : u.id;
}

/**
 * USER (an id or an email) → exactly one user of the app. An email that several users share is
 * refused, listing them: a person must pick one by id.
 */
export async function resolveUser(
  open: OpenDb,
  settings: Settings,
  query: string,
  opts: { allowLedgerOnly?: boolean } = {},
): Promise<UserInfo> {
  const q = query.trim();
  if (q === '') throw new UsageError('USER must not be blank', 'give a user id or an email');
  const found = await findUserCandidates(open.db, settings.config.users, query);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new UsageError(
      `'${q}' matches ${found.length} users: ${found.map(describeUser).join('; ')}`,
      'give the user id instead of the email',
    );
  }
  // A user removed from the app may still have entries: balance and lookup can still show them.
  if (
    opts.allowLedgerOnly &&
    (await existingTables(open.db)).has('credit_ledger') &&
    (await userHasEntries(open.db, q))
  ) {
    return { id: q, email: null, name: null };
  }
  const table = settings.config.users.schema
    ? `${settings.config.users.schema}.${settings.config.users.table}`
    : settings.config.users.table;
  throw new UsageError(
    `no user with id or email '${q}' in table ${table}`,
    'check the id or email (stripe-credits never creates users)',
  );
}

/** A ledger entry as support output shows it. */
export interface LedgerEntry {
  id: number;
  createdAt: string;
  userId: string;
  credits: number;
  kind: string;
  paymentKey: string | null;
  checkoutSession: string | null;
  paymentIntent: string | null;
  amount: number | null;
  currency: string | null;
  livemode: boolean;
  actor: string;
  reason: string | null;
  runId: number | null;
  /** How a purchase's payment was matched to its user (null on manual entries and on entries older than migration 0009). */
  matchedBy: string | null;
}

export function toEntry(r: LedgerRow): LedgerEntry {
  return {
    id: Number(r.id),
    createdAt: r.created_at,
    userId: r.user_id,
    credits: Number(r.credits),
    kind: r.kind,
    paymentKey: r.payment_key,
    checkoutSession: r.checkout_session_id,
    paymentIntent: r.payment_intent_id,
    amount: r.amount === null ? null : Number(r.amount),
    currency: r.currency,
    livemode: Number(r.livemode) === 1,
    actor: r.actor,
    reason: r.reason,
    runId: r.run_id === null ? null : Number(r.run_id),
    matchedBy: r.matched_by ?? null,
  };
}

/** Who wrote an entry, for messages: a run, or a person. */
function whoWrote(e: LedgerEntry): string {
  const by = e.runId !== null ? `run ${e.runId}` : e.actor;
  return `by ${by} on ${e.createdAt.slice(0, 10)}`;
}

// ---------------------------------------------------------------------------------------------
// review

export interface ReviewItem {
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  reason: string;
  /** What made the reason so (invalid_credits: the bad value); null when the reason says it all. */
  detail: string | null;
  amount: number | null;
  currency: string | null;
  livemode: boolean;
  paidAt: string;
  emails: string[];
  /** The name Stripe saw: a hint for people, never used to match. */
  name: string | null;
  candidates: UserInfo[];
  unknownIds: string[];
  status: string;
  queuedAt: string;
  updatedAt: string;
  firstRunId: number | null;
  lastRunId: number | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

function jsonList(s: string): string[] {
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function toReviewItem(r: ReviewRow, users: Map<string, UserInfo>): ReviewItem {
  return {
    paymentKey: r.payment_key,
    checkoutSession: r.checkout_session_id,
    paymentIntent: r.payment_intent_id,
    reason: r.reason,
    detail: r.detail ?? null,
    amount: r.amount === null ? null : Number(r.amount),
    currency: r.currency,
    livemode: Number(r.livemode) === 1,
    paidAt: r.paid_at,
    emails: jsonList(r.emails),
    name: r.name,
    candidates: jsonList(r.candidate_user_ids).map((id) => users.get(id) ?? { id, email: null, name: null }),
    unknownIds: jsonList(r.unknown_ids),
    ...reviewState(r),
  };
}

/** Where a review entry stands (open, resolved, dismissed), who closed it and when: the same for every entry. */
export function reviewState(r: ReviewRow) {
  return {
    status: r.status,
    queuedAt: r.created_at,
    updatedAt: r.updated_at,
    firstRunId: r.first_run_id === null ? null : Number(r.first_run_id),
    lastRunId: r.last_run_id === null ? null : Number(r.last_run_id),
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}

/**
 * The open review queue's payments, oldest first, with the candidate users' emails and names, read
 * on a database already open (and verified against the config) that has the review table.
 */
export async function reviewItemsIn(open: OpenDb, o: SupportOptions): Promise<ReviewItem[]> {
  const rows = await openReviewEntries(open.db);
  const ids = rows.flatMap((r) => jsonList(r.candidate_user_ids));
  const users = ids.length > 0 ? await usersByIds(open.db, o.settings.config.users, ids) : new Map<string, UserInfo>();
  return rows.map((r) => toReviewItem(r, users));
}

export interface DismissResult {
  /** `dismissed` now, or `unchanged` (it was dismissed before: the earlier who and why are kept). */
  outcome: 'dismissed' | 'unchanged';
  item: ReviewItem;
}

/** Closes an open review entry without crediting; who and why are kept on it. */
export async function dismissReview(
  o: SupportOptions & { payment: string; reason: string; actor: string },
): Promise<DismissResult> {
  paymentIdKind(o.payment);
  const open = await openForWriting(o);
  try {
    await migrateToLatest(open.db);
    const before = await reviewEntryFor(open.db, [o.payment]);
    if (!before) {
      throw new UsageError(
        `${o.payment} is not in the review queue`,
        'see the open entries with: stripe-credits review; lookup shows what is known about a payment',
      );
    }
    if (before.status === 'open' && (await dismissReviewEntry(open.db, before.payment_key, o.actor, o.reason))) {
      const after = await reviewEntryFor(open.db, [before.payment_key]);
      return { outcome: 'dismissed', item: toReviewItem(after!, new Map()) };
    }
    const now = (await reviewEntryFor(open.db, [before.payment_key]))!;
    if (now.status === 'dismissed') return { outcome: 'unchanged', item: toReviewItem(now, new Map()) };
    throw new AttentionError(
      `${now.payment_key} is no longer open: ${now.resolution ?? 'credited'}${now.resolved_by ? ` (${now.resolved_by}, ${now.resolved_at?.slice(0, 10)})` : ''}`,
      'see what the ledger holds with: stripe-credits lookup ' + now.payment_key,
    );
  } finally {
    await open.close();
  }
}

// ---------------------------------------------------------------------------------------------
// assign

export interface AssignOptions extends SupportOptions {
  payment: string;
  user: string;
  reason: string;
  actor: string;
  credits: number | null;
  /** Move an already credited payment to `user` (a correction). */
  reassign: boolean;
}

export interface AssignResult {
  /** `credited`: a purchase entry written; `reassigned`: a reversal and a credit written; `unchanged`: the user already holds it. */
  outcome: 'credited' | 'reassigned' | 'unchanged';
  paymentKey: string;
  checkoutSession: string | null;
  paymentIntent: string | null;
  user: UserInfo;
  credits: number;
  /** A credit rule, `override` (--credits), or `purchase` (a reassignment moves the purchase's credits). */
  creditSource: CreditRuleName | 'override' | 'purchase';
  previousUserId: string | null;
  /** The ledger entries written now. */
  entries: LedgerEntry[];
  reviewClosed: boolean;
  actor: string;
  reason: string;
}

/**
 * With a mapped ledger: "TABLE holds REF" when the app's own table credits one of these ids (a
 * payment the tool has no entry of), else null.
 */
async function creditedByApp(open: OpenDb, settings: Settings, ids: string[]): Promise<string | null> {
  const mapped = settings.config.ledger;
  if (!mapped) return null;
  const refs = [...(await appRefsFound(open.db, mapped, ids))];
  return refs.length > 0 ? `${tableLabel(mapped)} holds ${refs.join(', ')}` : null;
}

async function alreadyCreditedError(
  open: OpenDb,
  ids: string[],
  key: string,
  meanwhile: boolean,
  settings: Settings,
): Promise<AttentionError> {
  const holding = paymentHolding(await ledgerEntriesForPayment(open.db, ids));
  const byApp = holding ? null : await creditedByApp(open, settings, ids);
  if (byApp)
    return new AttentionError(
      `${key} is already credited by the app itself (${byApp}): nothing written`,
      `check it with: stripe-credits lookup ${key}`,
    );
  const to = holding
    ? `user ${holding.holderUserId} (${holding.credits} credits, ${whoWrote(toEntry(holding.holderEntry))}${holding.generation > 0 ? `, reassigned ${holding.generation}×` : ''})`
    : 'another user';
  return new AttentionError(
    `${key} is already credited${meanwhile ? ' (credited meanwhile by someone else)' : ''} to ${to}: nothing written`,
    `if it went to the wrong user, move it with: stripe-credits assign ${key} --user USER --reason TEXT --reassign`,
  );
}

/** What a plan of assign needs: the payment, the user and how (no reason or actor: nothing is written). */
export type AssignTarget = Pick<AssignOptions, 'settings' | 'cwd' | 'payment' | 'user' | 'credits' | 'reassign'>;

/**
 * What assign would write, decided with every check its write makes (the app's tables, the user,
 * the payment as Stripe has it, the credit rules, the ledger's mode, "already credited"; for a
 * reassignment, who holds the payment now), nothing written. The CLI writes it at once; the
 * console shows it, and its confirm plans again and writes that.
 */
export type AssignPlan = CreditPlan | ReassignPlan;

export interface CreditPlan {
  reassign: false;
  user: UserInfo;
  payment: Payment;
  decision: PaymentDecision & { credits: number };
  creditSource: CreditRuleName | 'override';
}

export interface ReassignPlan {
  reassign: true;
  /** The new user. */
  user: UserInfo;
  /** Who holds the payment now, and its purchase entry. */
  holding: PaymentHolding;
  /** The payment's ids as the tool's tables know them (the id given, and a session's payment key). */
  known: string[];
}

/** Refusals that need no database: a payment id, and --credits without --reassign. */
function checkAssignInput(o: AssignTarget): void {
  paymentIdKind(o.payment);
  if (o.reassign && o.credits !== null)
    throw new UsageError(
      '--credits cannot be combined with --reassign: a reassignment moves the credits the payment was credited with',
      'change the amount with adjust',
    );
}

/**
 * Plans assign on a database already open, read-only or not and migrated or not (a table the tool
 * has not made yet holds nothing): throws the refusal the write would throw.
 */
export async function planAssign(open: OpenDb, o: AssignTarget): Promise<AssignPlan> {
  checkAssignInput(o);
  await verifyAppTables(open.db, o.settings.config);
  const user = await resolveUser(open, o.settings, o.user);
  if (o.reassign) return planReassign(open, o, user);
  const payment = await paymentToAssign(o);
  const plan = assignPlan(payment, user, o.settings.config, o.credits);
  if (!plan.ok)
    throw new UsageError(
      plan.message.startsWith('--') ? plan.message : `${payment.paymentKey} ${plan.message}`,
      plan.hint,
    );
  const decision = { ...plan.decision, credits: plan.decision.credits! };
  await refuseIfLedgerCannotTake(open, o.settings, decision, payment);
  return { reassign: false, user, payment, decision, creditSource: plan.creditSource };
}

/**
 * Credits a payment the chain could not match to the user a person names. The payment is read
 * from Stripe and must be one reconcile could credit; the credits follow the rules unless given.
 * The purchase goes in under the payment key like any other, so the unique index decides against
 * a concurrent reconcile: the loser reports "already credited". `beforeWrite` may refuse the plan
 * (the console's per-role limit) before anything is written.
 */
export async function assignPayment(
  o: AssignOptions,
  beforeWrite: (plan: AssignPlan) => void = () => {},
): Promise<AssignResult> {
  checkAssignInput(o);
  const open = await openForWriting(o);
  try {
    const plan = await planAssign(open, o);
    beforeWrite(plan);
    return await writeAssign(open, o, plan);
  } finally {
    await open.close();
  }
}

/** Writes a plan of planAssign: migrates, then checks again what may have changed since it was made. */
async function writeAssign(open: OpenDb, o: AssignOptions, plan: AssignPlan): Promise<AssignResult> {
  await migrateToLatest(open.db);
  if (plan.reassign) return writeReassign(open, o, plan);
  const { decision: d, user } = plan;
  await refuseIfLedgerCannotTake(open, o.settings, d, plan.payment);
  const reviewClosed = await writeAssignment(open, o, d, user);
  const entries = (await ledgerEntriesForPayment(open.db, [d.paymentKey]))
    .filter((e) => e.kind === 'purchase')
    .map(toEntry);
  return {
    outcome: 'credited',
    paymentKey: d.paymentKey,
    checkoutSession: d.checkoutSession,
    paymentIntent: d.paymentIntent,
    user,
    credits: d.credits,
    creditSource: plan.creditSource,
    previousUserId: null,
    entries,
    reviewClosed,
    actor: o.actor,
    reason: o.reason,
  };
}

/** The payment as Stripe has it now: it must exist and be a payment. */
export async function paymentToAssign(o: Pick<AssignOptions, 'settings' | 'payment'>): Promise<Payment> {
  const reader = stripeReaderFor(o.settings);
  const fetched = await fetchPaymentById(reader, o.payment, o.settings.config);
  if (!fetched) {
    throw new UsageError(
      `Stripe has no ${paymentIdKind(o.payment) === 'checkout_session' ? 'Checkout Session' : 'PaymentIntent'} ${o.payment}`,
      'check the id, and that the key is for the right account and mode (test or live)',
    );
  }
  if (!fetched.payment)
    throw new UsageError(
      `${o.payment} is not a payment: ${fetched.notPayment ?? 'unknown'}`,
      'only a successful payment can be credited',
    );
  return fetched.payment;
}

/**
 * Test and live payments never share a ledger, and a payment credited already is not credited
 * again. Before the tool's tables exist its ledger holds nothing (the app's mapped table may).
 */
async function refuseIfLedgerCannotTake(
  open: OpenDb,
  settings: Settings,
  d: PaymentDecision,
  payment: Payment,
): Promise<void> {
  const own = (await existingTables(open.db)).has('credit_ledger');
  const modes = own ? await ledgerModes(open.db) : [];
  if (modes.some((m) => m !== d.livemode)) {
    throw new ConfigError(
      `${d.paymentKey} is a ${d.livemode ? 'live' : 'test'}-mode payment and this ledger holds ${d.livemode ? 'test' : 'live'}-mode payments: test and live payments never mix in one ledger`,
    );
  }
  if ((await findCredited(open.db, [payment], settings.config.ledger, { toolTables: own })).size > 0)
    throw await alreadyCreditedError(open, paymentIds(d), d.paymentKey, false, settings);
}

/**
 * The purchase entry, its review entry resolved and its record, in one transaction; returns
 * whether a review entry was closed. Throws "already credited" when a concurrent writer won.
 */
async function writeAssignment(open: OpenDb, o: AssignOptions, d: PaymentDecision, user: UserInfo): Promise<boolean> {
  const ids = paymentIds(d);
  const before = await reviewEntryFor(open.db, ids);
  const written = await writeTransaction(open.db, async (trx: Kysely<Database>) => {
    // The unique (kind, payment_key) index decides (and with a mapped ledger, the app's table, checked again under the lock).
    const inserted = await insertPurchases(trx, [d], {
      runId: null,
      actor: o.actor,
      reason: o.reason,
      adoption: o.settings.config,
    });
    if (!inserted.has(d.paymentKey)) return null;
    const reviewClosed = await resolveReviewOnAssign(trx, before, {
      userId: user.id,
      actor: o.actor,
      reason: o.reason,
    });
    await recordAssignment(trx, d);
    return { reviewClosed };
  });
  if (!written) throw await alreadyCreditedError(open, ids, d.paymentKey, true, o.settings);
  return written.reviewClosed;
}

/**
 * Plans moving a credited payment to the right user: who holds it now, from the tool's own
 * entries. Needs no Stripe call: the purchase entry says what was credited.
 */
async function planReassign(open: OpenDb, o: AssignTarget, user: UserInfo): Promise<ReassignPlan> {
  const tables = await existingTables(open.db);
  // No Stripe call: a session id's payment key comes from the tool's own tables.
  const known = [o.payment, ...(await sessionKeys(open.db, [o.payment], tables))];
  const holding = tables.has('credit_ledger') ? paymentHolding(await ledgerEntriesForPayment(open.db, known)) : null;
  const byApp = holding ? null : await creditedByApp(open, o.settings, known);
  if (byApp) {
    throw new UsageError(
      `${o.payment} was credited by the app itself (${byApp}), not by stripe-credits: there is no entry of the tool's to move`,
      'move the credits with two adjustments: stripe-credits adjust --user FROM --credits -N --reason TEXT, then --user TO --credits N',
    );
  }
  if (!holding) {
    throw new UsageError(
      `${o.payment} is not credited to anyone yet: there is nothing to reassign`,
      `credit it with: stripe-credits assign ${o.payment} --user USER --reason TEXT (without --reassign)`,
    );
  }
  return { reassign: true, user, holding, known };
}

/**
 * Moves a credited payment to the right user: a `reassign_out.N` entry takes the credits from the
 * user who holds them, a `reassign_in.N` entry gives them to the new one (see reassignKinds). The
 * next N's unique index refuses the move when someone else moved the payment since the plan.
 */
async function writeReassign(open: OpenDb, o: AssignOptions, plan: ReassignPlan): Promise<AssignResult> {
  const { holding, user } = plan;
  const p = holding.purchase;
  const base = {
    paymentKey: p.payment_key ?? o.payment,
    checkoutSession: p.checkout_session_id,
    paymentIntent: p.payment_intent_id,
    user,
    credits: holding.credits,
    creditSource: 'purchase' as const,
    actor: o.actor,
    reason: o.reason,
    reviewClosed: false,
  };
  if (holding.holderUserId === user.id) {
    return { ...base, outcome: 'unchanged', previousUserId: user.id, entries: [] };
  }
  const ids = await insertReassignment(open.db, holding, user.id, {
    actor: o.actor,
    reason: o.reason,
    adoption: o.settings.config,
  });
  if (!ids) {
    const now = paymentHolding(await ledgerEntriesForPayment(open.db, plan.known));
    throw new AttentionError(
      `${base.paymentKey} was reassigned by someone else meanwhile; it is now with user ${now?.holderUserId ?? '?'}: nothing written`,
      'check with: stripe-credits lookup ' + base.paymentKey,
    );
  }
  const written = (await ledgerEntriesForPayment(open.db, [base.paymentKey]))
    .filter((e) => Number(e.id) === ids.out || Number(e.id) === ids.in)
    .map(toEntry);
  return { ...base, outcome: 'reassigned', previousUserId: holding.holderUserId, entries: written };
}

// ---------------------------------------------------------------------------------------------
// adjust

export interface AdjustResult {
  user: UserInfo;
  entry: LedgerEntry;
  balance: number;
  /** `once` had been used: nothing written, `entry` is the one its first use wrote. */
  repeated: boolean;
}

type AdjustTarget = SupportOptions & { user: string; credits: number };

/** What adjust would write: the user, their balance now, and the mode the entry takes. */
export interface AdjustPlan {
  user: UserInfo;
  credits: number;
  balance: number;
  /** A manual entry takes the ledger's mode (test and live never mix in one ledger). */
  livemode: boolean;
}

function checkAdjustInput(o: AdjustTarget): void {
  const max = o.settings.config.maxCreditsPerPayment;
  if (Math.abs(o.credits) > max) {
    throw new UsageError(
      `--credits ${o.credits} is more than maxCreditsPerPayment (${max}) in one entry`,
      'check the number; split it, or raise maxCreditsPerPayment in the config file',
    );
  }
}

/** Plans adjust with every check its write makes, on a database already open (read-only or not, migrated or not). */
async function planAdjust(open: OpenDb, o: AdjustTarget): Promise<AdjustPlan> {
  checkAdjustInput(o);
  await verifyAppTables(open.db, o.settings.config);
  const user = await resolveUser(open, o.settings, o.user);
  const own = (await existingTables(open.db)).has('credit_ledger');
  const modes = own ? await ledgerModes(open.db) : [];
  const balance = await readBalance(open.db, o.settings.config, user.id, own);
  return { user, credits: o.credits, balance, livemode: modes.length === 1 && modes[0] === true };
}

/** The plan of adjust on a read-only connection: what the console shows before a person confirms. */
export function previewAdjust(o: AdjustTarget): Promise<AdjustPlan> {
  return planReadOnly(o, (open) => planAdjust(open, o));
}

/** A `manual` ledger entry for a user, with who and why. */
export async function adjustCredits(
  o: AdjustTarget & { reason: string; actor: string; once?: string },
): Promise<AdjustResult> {
  checkAdjustInput(o);
  const open = await openForWriting(o);
  try {
    const plan = await planAdjust(open, o);
    await migrateToLatest(open.db);
    const { row, repeated } = await insertManual(
      open.db,
      { userId: plan.user.id, credits: o.credits, actor: o.actor, reason: o.reason, livemode: plan.livemode },
      o.settings.config,
      o.once,
    );
    const balance = await readBalance(open.db, o.settings.config, plan.user.id);
    return { user: plan.user, entry: toEntry(row), balance, repeated };
  } finally {
    await open.close();
  }
}

// ---------------------------------------------------------------------------------------------
// balance

/**
 * A user's balance as the app reads it: its balance column or its own ledger table when the config
 * maps them (the tool's entries are only part of those), else the sum of credit_ledger (0 while the
 * tool's tables do not exist: `ownLedger` false).
 */
export async function readBalance(
  db: Kysely<Database>,
  cfg: Adoption,
  userId: string,
  ownLedger = true,
): Promise<number> {
  return (await appBalance(db, cfg, userId)) ?? (ownLedger ? await balanceOf(db, userId) : 0);
}

export interface BalanceResult {
  user: UserInfo;
  balance: number;
  /** Where the balance is read: `SUM(credit_ledger.credits)`, the app's ledger or its balance column. */
  balanceSource: string;
  /** Newest first. */
  entries: LedgerEntry[];
}

/** A user's balance (the sum of their entries) and their entries, newest first. Read-only. */
export async function userBalance(o: SupportOptions & { user: string }): Promise<BalanceResult> {
  const open = await openForReading(o);
  try {
    await verifyAppTables(open.db, o.settings.config);
    const user = await resolveUser(open, o.settings, o.user, { allowLedgerOnly: true });
    const ownLedger = (await existingTables(open.db)).has('credit_ledger');
    const entries = ownLedger ? (await ledgerEntriesForUser(open.db, user.id)).map(toEntry) : [];
    return {
      user,
      balance: await readBalance(open.db, o.settings.config, user.id, ownLedger),
      balanceSource: balanceSource(o.settings.config),
      entries,
    };
  } finally {
    await open.close();
  }
}
