import { sql, type Kysely } from 'kysely';
import type { UsersConfig } from '../config.js';
import type { PaymentDecision } from '../reconcile/types.js';
import { asText, idAsRead, ownSchemaTables, writeTransaction } from './engine.js';
import { insertAppCredits, moveBalances } from './app-ledger.js';
import { inPartialIndex, nowIso, paymentRecordRow, sessionNotKey, type Adoption } from './ledger.js';
import { UsageError } from '../errors.js';
import { comparable } from './users.js';
import { INTENT_NOT_KEY } from './migrations/0006-fewer-indexes.js';
import { SESSION_NOT_CREDITED } from './migrations/0007-record-session-index.js';
import type { Database, LedgerRow, PaymentRecordRow, ReviewRow } from './schema.js';

/**
 * The queries and writes behind the commands people use to inspect and correct the ledger
 * (review, assign, adjust, balance, lookup).
 * Reconcile's own writes stay in ledger.ts; what is here reads the same tables for people and
 * writes only entries a person asked for.
 */

/**
 * The rows whose PaymentIntent id is one of `wanted`, less those whose payment key is that same id,
 * for a query that asks for `payment_key IN wanted` as well (so it finds the same rows as a plain
 * `payment_intent_id IN wanted`): the payment_intent_id index holds only those rows (migration
 * 0006), and spelling out its condition lets both engines use it.
 */
function intentNotKey(wanted: readonly string[]) {
  return inPartialIndex('payment_intent_id', wanted, INTENT_NOT_KEY);
}

/** Which of the tool's tables exist: read-only commands must work on a database never migrated. */
export async function existingTables(db: Kysely<Database>): Promise<Set<string>> {
  return ownSchemaTables(db);
}

/** The baseline record of a payment (found by key, session or PaymentIntent id), if `baseline` covered it. */
export async function baselineFor(db: Kysely<Database>, ids: readonly string[]) {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return undefined;
  return db
    .selectFrom('stripe_credits_baseline')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('payment_key', 'in', wanted),
        eb('checkout_session_id', 'in', wanted),
        eb('payment_intent_id', 'in', wanted),
      ]),
    )
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------
// Users

/** A user as support staff see it: the name is a hint for people, never used to match. */
export interface UserInfo {
  id: string;
  email: string | null;
  name: string | null;
}

interface UserInfoRow {
  id: string | number | bigint;
  email: string | null;
  name: string | null;
}

function usersTable(cfg: UsersConfig) {
  return cfg.schema ? sql.id(cfg.schema, cfg.table) : sql.id(cfg.table);
}

function userColumns(db: Kysely<Database>, cfg: UsersConfig) {
  const name = cfg.name ? sql.ref(cfg.name) : sql`NULL`;
  return sql`${idAsRead(db, sql.ref(cfg.id))} AS id, ${sql.ref(cfg.email)} AS email, ${name} AS name`;
}

const toUserInfo = (r: UserInfoRow): UserInfo => ({ id: String(r.id), email: r.email, name: r.name });

/**
 * The users a USER argument names: the user whose id is exactly that text, else every user whose
 * email is that address (trimmed, case-insensitive). Several users means the email is ambiguous.
 */
export async function findUserCandidates(db: Kysely<Database>, cfg: UsersConfig, query: string): Promise<UserInfo[]> {
  const q = query.trim();
  if (q === '' || !comparable(q)) return [];
  const t = usersTable(cfg);
  // An id is exact text (a TEXT id may hold spaces); a typed argument may carry stray ones, so the trimmed text comes next.
  for (const id of new Set([query, q])) {
    const byId =
      await sql<UserInfoRow>`SELECT ${userColumns(db, cfg)} FROM ${t} WHERE ${asText(db, sql.ref(cfg.id))} = ${id}`.execute(
        db,
      );
    // SQLite compares with the column's affinity ('042' finds 42): only an id that reads back as exactly the text counts.
    const exact = byId.rows.map(toUserInfo).filter((u) => u.id === id);
    if (exact.length > 0) return exact;
  }
  const byEmail =
    await sql<UserInfoRow>`SELECT ${userColumns(db, cfg)} FROM ${t} WHERE lower(trim(${asText(db, sql.ref(cfg.email))})) = ${q.toLowerCase()} ORDER BY ${sql.ref(cfg.id)}`.execute(
      db,
    );
  return byEmail.rows.map(toUserInfo);
}

/** Users by id (for showing candidates with their email and name). */
export async function usersByIds(
  db: Kysely<Database>,
  cfg: UsersConfig,
  ids: readonly string[],
): Promise<Map<string, UserInfo>> {
  const out = new Map<string, UserInfo>();
  const wanted = [...new Set(ids)].filter(comparable);
  for (let i = 0; i < wanted.length; i += 400) {
    const part = wanted.slice(i, i + 400);
    const rows =
      await sql<UserInfoRow>`SELECT ${userColumns(db, cfg)} FROM ${usersTable(cfg)} WHERE ${asText(db, sql.ref(cfg.id))} IN (${sql.join(part)})`.execute(
        db,
      );
    for (const r of rows.rows) {
      const u = toUserInfo(r);
      if (part.includes(u.id)) out.set(u.id, u);
    }
  }
  return out;
}

/** The Stripe customer id the users table holds for a user, when `users.stripeCustomerId` is configured. */
export async function customerIdOfUser(db: Kysely<Database>, cfg: UsersConfig, userId: string): Promise<string | null> {
  if (!cfg.stripeCustomerId || !comparable(userId)) return null;
  const rows = await sql<{
    id: string | number;
    customer: string | null;
  }>`SELECT ${idAsRead(db, sql.ref(cfg.id))} AS id, ${sql.ref(cfg.stripeCustomerId)} AS customer FROM ${usersTable(cfg)} WHERE ${asText(db, sql.ref(cfg.id))} = ${userId}`.execute(
    db,
  );
  const row = rows.rows.find((r) => String(r.id) === userId);
  return row?.customer?.trim() || null;
}

/** The users whose `users.stripeCustomerId` column holds this Stripe customer id (none when not configured). */
export async function usersOfCustomer(db: Kysely<Database>, cfg: UsersConfig, customer: string): Promise<UserInfo[]> {
  if (!cfg.stripeCustomerId || !comparable(customer)) return [];
  const rows =
    await sql<UserInfoRow>`SELECT ${userColumns(db, cfg)} FROM ${usersTable(cfg)} WHERE trim(${sql.ref(cfg.stripeCustomerId)}) = ${customer} ORDER BY ${sql.ref(cfg.id)}`.execute(
      db,
    );
  return rows.rows.map(toUserInfo);
}

/**
 * The users the tool holds for payments made as this Stripe customer: who has each credited one now
 * (its purchase entry names the customer; a reassignment moves it), and the user the tool's record
 * matched for each payment not credited.
 */
export async function userIdsRecordedForCustomer(
  db: Kysely<Database>,
  tables: Set<string>,
  customer: string,
): Promise<string[]> {
  const ids = new Set<string>();
  const credited = new Set<string>();
  if (tables.has('credit_ledger')) {
    const purchases = await db
      .selectFrom('credit_ledger')
      .select('payment_key')
      .distinct()
      .where('customer_id', '=', customer)
      .where('kind', '=', 'purchase')
      .execute();
    const keys = purchases.map((r) => r.payment_key).filter((k): k is string => k !== null);
    for (let i = 0; i < keys.length; i += 300) {
      const part = keys.slice(i, i + 300);
      const rows = await db.selectFrom('credit_ledger').selectAll().where('payment_key', 'in', part).execute();
      for (const key of part) {
        const h = paymentHolding(rows.filter((r) => r.payment_key === key));
        if (h) ids.add(h.holderUserId);
        credited.add(key);
      }
    }
  }
  if (tables.has('stripe_credits_payments')) {
    const rows = await db
      .selectFrom('stripe_credits_payments')
      .select(['payment_key', 'user_id'])
      .where('customer_id', '=', customer)
      .execute();
    for (const r of rows) if (r.user_id !== null && !credited.has(r.payment_key)) ids.add(r.user_id);
  }
  return [...ids].sort();
}

// ---------------------------------------------------------------------------------------------
// Ledger entries

/** Newest first (ids grow with time; created_at may tie within one transaction). */
export async function ledgerEntriesForUser(db: Kysely<Database>, userId: string): Promise<LedgerRow[]> {
  return db.selectFrom('credit_ledger').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').execute();
}

/** Whether the ledger holds any entry for this user id (a user deleted from the app may still have some). */
export async function userHasEntries(db: Kysely<Database>, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('credit_ledger')
    .select('id')
    .where('user_id', '=', userId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Every entry about a payment, oldest first: those under its payment key, and those naming its
 * Checkout Session or PaymentIntent (an app's webhook may have written either id). `ids` must hold
 * the payment key when a session id is among them (from Stripe, or sessionKeys): an entry under
 * the PaymentIntent id is not in the session index (migration 0008).
 */
export async function ledgerEntriesForPayment(db: Kysely<Database>, ids: readonly string[]): Promise<LedgerRow[]> {
  const wanted = [...new Set(ids.filter((x) => x !== ''))];
  if (wanted.length === 0) return [];
  return db
    .selectFrom('credit_ledger')
    .selectAll()
    .where((eb) => eb.or([eb('payment_key', 'in', wanted), sessionNotKey(wanted), intentNotKey(wanted)]))
    .orderBy('id', 'asc')
    .execute();
}

/**
 * Reassignment (moving a payment's credits from the user it went to, to the right one) writes a
 * pair of entries under the payment's key: `reassign_out.N` (minus the credits, for the user who
 * held them) and `reassign_in.N` (plus the credits, for the new user), N = 1, 2, … per payment.
 * The `purchase` entry is never touched, so the unique (kind, payment_key) index still allows one
 * purchase per payment, and also one pair per N: two people reassigning at once both try N and
 * the constraint lets exactly one of them write. The payment's entries always sum to its purchase.
 */
export function reassignKinds(n: number): { out: string; in: string } {
  return { out: `reassign_out.${n}`, in: `reassign_in.${n}` };
}

const REASSIGN_KIND = /^reassign_(in|out)\.(\d+)$/;

/** Who holds a credited payment's credits now, from its ledger entries. */
export interface PaymentHolding {
  purchase: LedgerRow;
  /** The user the credits are with: the last reassignment's, else the purchase's. */
  holderUserId: string;
  /** The entry that gave them to that user (who wrote it, and when): the last reassignment's, else the purchase. */
  holderEntry: LedgerRow;
  /** The purchase's credits (what every reassignment moves). */
  credits: number;
  /** The last reassignment's N (0 when never reassigned). */
  generation: number;
  /** Sum of every entry about the payment (equals `credits` when the ledger is consistent). */
  netCredits: number;
}

/** Pure: reads the holder and generation off a payment's entries. Null when it has no purchase. */
export function paymentHolding(entries: readonly LedgerRow[]): PaymentHolding | null {
  const purchase = entries.find((e) => e.kind === 'purchase');
  if (!purchase) return null;
  const same = entries.filter((e) => e.payment_key === purchase.payment_key);
  let generation = 0;
  let holderEntry = purchase;
  for (const e of same) {
    const m = REASSIGN_KIND.exec(e.kind);
    if (!m) continue;
    const n = Number(m[2]);
    if (n > generation) generation = n;
  }
  if (generation > 0) {
    const last = same.find((e) => e.kind === reassignKinds(generation).in);
    if (last) holderEntry = last;
  }
  return {
    purchase,
    holderUserId: holderEntry.user_id,
    holderEntry,
    credits: Number(purchase.credits),
    generation,
    netCredits: same.reduce((s, e) => s + Number(e.credits), 0),
  };
}

/**
 * Writes one reassignment pair. Returns false, writing nothing, when another reassignment of this
 * payment took number N first (the caller reads the new holder and reports it).
 */
export async function insertReassignment(
  db: Kysely<Database>,
  holding: PaymentHolding,
  to: string,
  opts: { actor: string; reason: string; adoption: Adoption },
): Promise<{ out: number; in: number } | null> {
  const p = holding.purchase;
  const kinds = reassignKinds(holding.generation + 1);
  const at = nowIso();
  const base = {
    payment_key: p.payment_key,
    checkout_session_id: p.checkout_session_id,
    payment_intent_id: p.payment_intent_id,
    amount: p.amount,
    currency: p.currency,
    livemode: p.livemode,
    actor: opts.actor,
    reason: opts.reason,
    run_id: null,
    created_at: at,
  };
  try {
    return await db.transaction().execute(async (trx) => {
      // The first statement writes, so SQLite takes the write lock at once (no read-then-upgrade deadlock).
      const out = await trx
        .insertInto('credit_ledger')
        .values({ ...base, user_id: holding.holderUserId, credits: -holding.credits, kind: kinds.out })
        .onConflict((oc) => oc.columns(['kind', 'payment_key']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!out) throw new LostRace();
      const inn = await trx
        .insertInto('credit_ledger')
        .values({ ...base, user_id: to, credits: holding.credits, kind: kinds.in })
        .onConflict((oc) => oc.columns(['kind', 'payment_key']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inn) throw new LostRace();
      // The app's own table and balance see the move as two manual entries (no payment reference:
      // the purchase row keeps it, and a unique index on it must not refuse the move).
      const moves = [
        { userId: holding.holderUserId, credits: -holding.credits, ref: null },
        { userId: to, credits: holding.credits, ref: null },
      ];
      if (opts.adoption.ledger) await insertAppCredits(trx, opts.adoption.ledger, moves, 'manual', new Date(at));
      if (opts.adoption.balance) await moveBalances(trx, opts.adoption.balance, moves);
      if (p.payment_key) {
        await trx
          .updateTable('stripe_credits_payments')
          .set({ user_id: to, matched_by: 'assign' })
          .where('payment_key', '=', p.payment_key)
          .execute();
      }
      return { out: Number(out.id), in: Number(inn.id) };
    });
  } catch (e) {
    if (e instanceof LostRace) return null;
    throw e;
  }
}

class LostRace extends Error {}

/**
 * A manual adjustment: `kind = 'manual'`, no payment key; with a mapped ledger also a row of the
 * app's table (its `setManual` constants), and the balance column moves, in the same transaction.
 */
export async function insertManual(
  db: Kysely<Database>,
  entry: { userId: string; credits: number; actor: string; reason: string; livemode: boolean },
  adoption: Adoption,
  once?: string,
): Promise<{ row: LedgerRow; repeated: boolean }> {
  return writeTransaction(db, async (trx: Kysely<Database>) => {
    const key = once === undefined ? null : `console-confirm:${once}`;
    if (key !== null) {
      const earlier = await claimOnce(trx, key);
      if (earlier) return { row: earlier, repeated: true };
    }
    const row = await insertManualRow(trx, entry);
    const moves = [{ userId: entry.userId, credits: entry.credits, ref: null }];
    if (adoption.ledger) await insertAppCredits(trx, adoption.ledger, moves, 'manual', new Date(row.created_at));
    if (adoption.balance) await moveBalances(trx, adoption.balance, moves);
    if (key !== null)
      await trx
        .updateTable('stripe_credits_state')
        .set({ value: String(row.id) })
        .where('key', '=', key)
        .execute();
    return { row, repeated: false };
  });
}

/**
 * A confirm form's one-time key, taken in the write's transaction (the state table's primary key
 * decides): the entry a first use of the key wrote, or undefined when this is the first use.
 */
async function claimOnce(trx: Kysely<Database>, key: string): Promise<LedgerRow | undefined> {
  const r = await trx
    .insertInto('stripe_credits_state')
    .values({ key, value: '', updated_at: new Date().toISOString() })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0) === 1) return undefined;
  const used = await trx.selectFrom('stripe_credits_state').select('value').where('key', '=', key).executeTakeFirst();
  const earlier = await trx
    .selectFrom('credit_ledger')
    .selectAll()
    .where('id', '=', Number(used?.value ?? 0))
    .executeTakeFirst();
  if (!earlier) throw new UsageError('this confirmation was used already', 'start again from the form');
  return earlier;
}

function insertManualRow(
  db: Kysely<Database>,
  entry: { userId: string; credits: number; actor: string; reason: string; livemode: boolean },
): Promise<LedgerRow> {
  return db
    .insertInto('credit_ledger')
    .values({
      user_id: entry.userId,
      credits: entry.credits,
      kind: 'manual',
      payment_key: null,
      checkout_session_id: null,
      payment_intent_id: null,
      amount: null,
      currency: null,
      livemode: entry.livemode ? 1 : 0,
      actor: entry.actor,
      reason: entry.reason,
      run_id: null,
      created_at: nowIso(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function balanceOf(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('credit_ledger')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('credits'), sql<number>`0`).as('balance'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(row?.balance ?? 0);
}

// ---------------------------------------------------------------------------------------------
// Review queue

/**
 * Open entries, oldest first: the payments' (`reversals: false`), or the refunds' and disputes'
 * that wait for a person (migration 0011's `source`).
 */
export async function openReviewEntries(
  db: Kysely<Database>,
  opts: { reversals?: boolean } = {},
): Promise<ReviewRow[]> {
  // Told apart here, not in SQL: a read-only command may read a queue migrated before 0011.
  const rows = await openReviewRows(db);
  return rows.filter((r) => isReversalEntry(r) === (opts.reversals ?? false));
}

/** Whether a review entry is a refund's or dispute's (migration 0011), not a payment's. */
const isReversalEntry = (r: ReviewRow): boolean => (r.source ?? null) !== null;

function openReviewRows(db: Kysely<Database>): Promise<ReviewRow[]> {
  return db
    .selectFrom('stripe_credits_review')
    .selectAll()
    .where('status', '=', 'open')
    .orderBy('paid_at', 'asc')
    .orderBy('created_at', 'asc')
    .orderBy('payment_key', 'asc')
    .execute();
}

/**
 * The review entry of a payment, found by its key, Checkout Session id or PaymentIntent id (not
 * the entries of its refunds and disputes, which name the payment's ids too).
 */
export async function reviewEntryFor(db: Kysely<Database>, ids: readonly string[]): Promise<ReviewRow | undefined> {
  const wanted = [...new Set(ids.filter((x) => x !== ''))];
  if (wanted.length === 0) return undefined;
  const rows = await db
    .selectFrom('stripe_credits_review')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('payment_key', 'in', wanted),
        eb('checkout_session_id', 'in', wanted),
        eb('payment_intent_id', 'in', wanted),
      ]),
    )
    .execute();
  return rows.find((r) => !isReversalEntry(r));
}

/** The review entry of a refund or dispute, by its id. */
export async function reversalReviewEntry(db: Kysely<Database>, id: string): Promise<ReviewRow | undefined> {
  return db
    .selectFrom('stripe_credits_review')
    .selectAll()
    .where('payment_key', '=', id)
    .where('source', 'is not', null)
    .executeTakeFirst();
}

/**
 * Closes an open entry without crediting, keeping who and why. Only an open entry changes (one
 * statement), so two people dismissing at once, or a run crediting it meanwhile, cannot clash.
 */
export async function dismissReviewEntry(
  db: Kysely<Database>,
  paymentKey: string,
  actor: string,
  reason: string,
): Promise<boolean> {
  const at = nowIso();
  const r = await db
    .updateTable('stripe_credits_review')
    .set({ status: 'dismissed', resolved_at: at, resolved_by: actor, resolution: reason, updated_at: at })
    .where('payment_key', '=', paymentKey)
    .where('status', '=', 'open')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/**
 * After `assign` credited a payment: its review entry (open, or dismissed earlier) is resolved,
 * naming the user, who and why. A dismissal it overrides is kept in the resolution text.
 */
export async function resolveReviewOnAssign(
  trx: Kysely<Database>,
  before: ReviewRow | undefined,
  opts: { userId: string; actor: string; reason: string },
): Promise<boolean> {
  if (!before || before.status === 'resolved') return false;
  const at = nowIso();
  const earlier =
    before.status === 'dismissed'
      ? ` (dismissed earlier by ${before.resolved_by ?? '?'}: ${before.resolution ?? ''})`
      : '';
  const r = await trx
    .updateTable('stripe_credits_review')
    .set({
      status: 'resolved',
      resolved_at: at,
      resolved_by: opts.actor,
      resolution: `assigned to user ${opts.userId}: ${opts.reason}${earlier}`,
      updated_at: at,
    })
    .where('payment_key', '=', before.payment_key)
    .execute();
  return r.some((x) => Number(x.numUpdatedRows) > 0);
}

// ---------------------------------------------------------------------------------------------
// The local record of decided payments (stripe_credits_payments)

/** Records that `assign` credited a payment to a user, so that `lookup USER` finds it. */
export async function recordAssignment(trx: Kysely<Database>, d: PaymentDecision): Promise<void> {
  const at = nowIso();
  await trx
    .insertInto('stripe_credits_payments')
    .values({ ...paymentRecordRow(d, null, at), matched_by: 'assign', status: 'credited', reason: null })
    .onConflict((oc) =>
      oc.column('payment_key').doUpdateSet((eb) => ({
        user_id: eb.ref('excluded.user_id'),
        matched_by: eb.ref('excluded.matched_by'),
        status: eb.ref('excluded.status'),
        reason: eb.ref('excluded.reason'),
        credits: eb.ref('excluded.credits'),
        last_seen_at: eb.ref('excluded.last_seen_at'),
      })),
    )
    .execute();
}

export async function paymentRecordFor(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<PaymentRecordRow | undefined> {
  const wanted = [...new Set(ids.filter((x) => x !== ''))];
  if (wanted.length === 0) return undefined;
  return paymentRecordQuery(db, wanted).executeTakeFirst();
}

/**
 * The record of a payment by payment key, PaymentIntent id or Checkout Session id. The session
 * index holds only the records of payments no purchase entry of the tool's stands for (migration
 * 0007): like ledgerEntriesForPayment, `wanted` must hold the payment key when it holds a session
 * id. The index's condition is spelled out so that both engines use it.
 */
export function paymentRecordQuery(db: Kysely<Database>, wanted: readonly string[]) {
  return db
    .selectFrom('stripe_credits_payments')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('payment_key', 'in', wanted),
        inPartialIndex('checkout_session_id', wanted, SESSION_NOT_CREDITED),
        intentNotKey(wanted),
      ]),
    );
}

/**
 * The payment keys the tool's ledger and record hold for these Checkout Session ids, for a
 * command that has a session id but not its payment key (Stripe does not know the session, or
 * `assign --reassign`, which asks Stripe nothing). The session indexes leave out the entries keyed
 * by their PaymentIntent id (migrations 0007, 0008), so this reads both tables whole: a support
 * command's one query, never a run's.
 */
export async function sessionKeys(
  db: Kysely<Database>,
  ids: readonly string[],
  tables: ReadonlySet<string>,
): Promise<string[]> {
  const sessions = [...new Set(ids.filter((x) => x.startsWith('cs_')))];
  if (sessions.length === 0) return [];
  const keys = new Set<string>();
  if (tables.has('credit_ledger')) {
    for (const r of await db
      .selectFrom('credit_ledger')
      .select('payment_key')
      .where('checkout_session_id', 'in', sessions)
      // A reversal names the payment's session but is keyed by its refund or dispute id.
      .where('kind', 'not in', ['reversal', 'reinstatement'])
      .execute())
      if (r.payment_key) keys.add(r.payment_key);
  }
  if (tables.has('stripe_credits_payments')) {
    for (const r of await db
      .selectFrom('stripe_credits_payments')
      .select('payment_key')
      .where('checkout_session_id', 'in', sessions)
      .execute())
      keys.add(r.payment_key);
  }
  return [...keys];
}

/**
 * Payments the tool has decided that belong to a user or carry one of these emails or customer
 * ids: what Stripe cannot answer (it lists sessions by email and customer, not by user id or
 * metadata). Emails are stored as a JSON array of normalised addresses; the LIKE narrows, the
 * JSON check decides (an email's `_` or `%` would otherwise be a wildcard).
 */
export async function paymentRecordsFor(
  db: Kysely<Database>,
  q: { userId: string | null; emails: readonly string[]; customerIds: readonly string[] },
): Promise<PaymentRecordRow[]> {
  const emails = [...new Set(q.emails.map((e) => e.trim().toLowerCase()).filter((e) => e !== ''))];
  const customers = [...new Set(q.customerIds.filter((c) => c !== ''))];
  const rows = await db
    .selectFrom('stripe_credits_payments')
    .selectAll()
    .where((eb) => {
      const terms = [];
      if (q.userId !== null) terms.push(eb('user_id', '=', q.userId));
      if (customers.length > 0) terms.push(eb('customer_id', 'in', customers));
      for (const e of emails) terms.push(eb('emails', 'like', `%${e}%`));
      return terms.length > 0 ? eb.or(terms) : sql<boolean>`1 = 0`;
    })
    .orderBy('paid_at', 'desc')
    .execute();
  return rows.filter((r) => {
    if (q.userId !== null && r.user_id === q.userId) return true;
    if (r.customer_id !== null && customers.includes(r.customer_id)) return true;
    let stored: unknown;
    try {
      stored = JSON.parse(r.emails);
    } catch {
      return false;
    }
    return Array.isArray(stored) && stored.some((e) => typeof e === 'string' && emails.includes(e));
  });
}
