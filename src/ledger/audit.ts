import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { LedgerMapping } from '../config.js';
import type { AuditEntry } from '../reconcile/types.js';
import { chunks } from './chunks.js';
import { engineFor, ownSchemaTables } from './engine.js';
import { readableRef, tableLabel } from './app-ledger.js';
import { describeTable, tableRef } from './introspect.js';
import { inPartialIndex, sessionNotKey } from './ledger.js';
import { INTENT_NOT_KEY } from './migrations/0006-fewer-indexes.js';
import type { Database, LedgerRow } from './schema.js';

/**
 * The ledger side of `audit` (SPEC "Audit"): the purchase entries in a window, as the core's
 * AuditEntry, a batch at a time; the other entries that name the same payment; and which entries
 * a person resolved already (audit-resolve.ts writes those).
 *
 * Entry ids: on the tool's ledger, credit_ledger.id. On a mapped app table, its single-column
 * primary key (or SQLite's INTEGER PRIMARY KEY) as text; a table without one has no stable row id
 * the tool could name, so its entries are named `REF#N`: the payment reference and the row's rank
 * among the rows holding that reference (by time, credits, user), `pi_3Mtw…#1` for the first.
 */

/** The ledger audit reads: the tool's own, or the app's table the config maps it onto. */
export type AuditLedger =
  | { kind: 'own' }
  | {
      kind: 'mapped';
      mapping: LedgerMapping;
      /** The table's single-column primary key, or null (entries are then named REF#N). */
      key: string | null;
    };

/** Unix seconds: `since` included, `until` not. */
export interface AuditWindow {
  since: number;
  until: number;
}

/** An entry as samePayment returns it (AuditInput.samePayment). */
export type SameEntry = Pick<AuditEntry, 'entryId' | 'paymentRef' | 'createdAt'>;

/** The ids a payment goes by, as the caller knows them after reading Stripe. */
export interface PaymentIdPair {
  checkoutSession: string | null;
  paymentIntent: string | null;
}

const PAGE = 1000;
export const RESOLUTIONS = 'stripe_credits_audit_resolutions';

/** The ledger the config says audit reads; for a mapped table, its primary key found by introspection. */
export async function auditLedger(db: Kysely<Database>, mapping: LedgerMapping | null): Promise<AuditLedger> {
  if (!mapping) return { kind: 'own' };
  const info = await describeTable(db, mapping.schema, mapping.table);
  const pk = info?.indexes.find((i) => i.primary && i.columns.length === 1 && i.predicate === null);
  return { kind: 'mapped', mapping, key: pk?.columns[0] ?? null };
}

/** How resolutions name the ledger an entry is in. */
export function ledgerName(l: AuditLedger): string {
  return l.kind === 'own' ? 'credit_ledger' : tableLabel(l.mapping);
}

/**
 * The purchase entries whose time is in the window, not resolved by a person, a batch (at most
 * `batchSize`) at a time, so that a large ledger never sits in memory whole. On a mapped table
 * with no createdAt column (or a row whose time cannot be read) the table says nothing of when an
 * entry was written: every such entry is read, whatever the window, with createdAt 0.
 */
export async function* auditEntryBatches(
  db: Kysely<Database>,
  ledger: AuditLedger,
  window: AuditWindow,
  batchSize = PAGE,
): AsyncGenerator<AuditEntry[]> {
  const tables = await ownSchemaTables(db);
  const pages = ledger.kind === 'own' ? ownPages(db, window, batchSize, tables) : mappedPages(db, ledger, batchSize);
  const byTime = (e: AuditEntry) => e.createdAt === 0 || (e.createdAt >= window.since && e.createdAt < window.until);
  for await (const page of pages) {
    const inWindow = page.filter(ledger.kind === 'own' ? () => true : byTime);
    const done = await resolvedAmong(
      db,
      ledger,
      inWindow.map((e) => e.entryId),
      tables,
    );
    const open = inWindow.filter((e) => !done.has(e.entryId));
    if (open.length > 0) yield open;
  }
}

/** credit_ledger's purchases in the window, by id (the primary key: each page is a range of it). */
async function* ownPages(
  db: Kysely<Database>,
  window: AuditWindow,
  size: number,
  tables: ReadonlySet<string>,
): AsyncGenerator<AuditEntry[]> {
  if (!tables.has('credit_ledger')) return;
  const since = new Date(window.since * 1000).toISOString();
  const until = new Date(window.until * 1000).toISOString();
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('credit_ledger')
      .selectAll()
      .where('kind', '=', 'purchase')
      .where('created_at', '>=', since)
      .where('created_at', '<', until)
      .where('id', '>', after)
      .orderBy('id', 'asc')
      .limit(size)
      .execute();
    if (rows.length > 0) yield await withHolders(db, rows.map(ownEntry));
    if (rows.length < size) return;
    after = Number(rows[rows.length - 1]!.id);
  }
}

/**
 * An entry of the tool's ledger. A purchase `assign` wrote carries the person's `--reason` (with
 * or without `--credits`); reconcile and the library write none.
 */
function ownEntry(r: LedgerRow): AuditEntry {
  return {
    entryId: String(r.id),
    userId: r.user_id,
    credits: Number(r.credits),
    paymentRef: r.payment_key ?? r.payment_intent_id ?? r.checkout_session_id ?? '',
    byPerson: r.reason !== null,
    livemode: Number(r.livemode) === 1,
    createdAt: isoSeconds(r.created_at),
  };
}

const isoSeconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

const REASSIGNED_TO = /^reassign_in\.(\d+)$/;

/**
 * A purchase a person moved to another user (`assign --reassign`, see reassignKinds) is with the
 * last reassignment's user, and a person decided it: checked as `assign`'s entries are, for that user.
 */
async function withHolders(db: Kysely<Database>, entries: AuditEntry[]): Promise<AuditEntry[]> {
  const holders = await reassignedTo(
    db,
    entries.map((e) => e.paymentRef),
  );
  if (holders.size === 0) return entries;
  return entries.map((e) => {
    const userId = holders.get(e.paymentRef);
    return userId !== undefined ? { ...e, userId, byPerson: true } : e;
  });
}

/** The user each of these payments was last reassigned to, for those reassigned. */
async function reassignedTo(db: Kysely<Database>, keys: readonly string[]): Promise<Map<string, string>> {
  const last = new Map<string, { n: number; userId: string }>();
  for (const part of chunks([...new Set(keys)], 400)) {
    const rows = await db
      .selectFrom('credit_ledger')
      .select(['payment_key', 'kind', 'user_id'])
      .where('payment_key', 'in', part)
      .where('kind', 'like', 'reassign_in.%')
      .execute();
    for (const r of rows) {
      const n = Number(REASSIGNED_TO.exec(r.kind)?.[1] ?? 0);
      if (r.payment_key && n > (last.get(r.payment_key)?.n ?? 0)) last.set(r.payment_key, { n, userId: r.user_id });
    }
  }
  return new Map([...last].map(([k, v]) => [k, v.userId]));
}

// ---------------------------------------------------------------------------------------------
// A mapped app table

interface AppRow {
  pk: unknown;
  user_id: unknown;
  credits: unknown;
  ref: string;
  created_at: unknown;
}

/** The columns read from the app's table, under fixed names. */
function appColumns(db: Kysely<Database>, l: Extract<AuditLedger, { kind: 'mapped' }>) {
  const { columns } = l.mapping;
  const text = (c: string) => engineFor(db).asText(sql.ref(c));
  return sql.join([
    sql`${l.key ? text(l.key) : sql`NULL`} AS pk`,
    sql`${text(columns.userId)} AS user_id`,
    sql`${sql.ref(columns.credits)} AS credits`,
    sql`${text(columns.paymentRef)} AS ref`,
    sql`${columns.createdAt ? sql.ref(columns.createdAt) : sql`NULL`} AS created_at`,
  ]);
}

/**
 * The app's rows with a reference the tool can read, whole groups of one reference at a time (a
 * REF#N name needs every row of its reference), ordered by reference. The window is applied by
 * the caller: the app's time column may be text, a number or a timestamp.
 */
async function* mappedPages(
  db: Kysely<Database>,
  l: Extract<AuditLedger, { kind: 'mapped' }>,
  size: number,
): AsyncGenerator<AuditEntry[]> {
  const ref = sql.ref(l.mapping.columns.paymentRef);
  const t = tableRef(l.mapping.schema, l.mapping.table);
  let after = '';
  for (;;) {
    const last = await sql<{
      ref: string | null;
    }>`SELECT MAX(r) AS ref FROM (SELECT ${ref} AS r FROM ${t} WHERE ${readableRef(db, ref)} AND ${ref} > ${after} ORDER BY ${ref} LIMIT ${size}) page`.execute(
      db,
    );
    const upTo = last.rows[0]?.ref;
    if (upTo === null || upTo === undefined) return;
    const rows =
      await sql<AppRow>`SELECT ${appColumns(db, l)} FROM ${t} WHERE ${readableRef(db, ref)} AND ${ref} > ${after} AND ${ref} <= ${upTo}`.execute(
        db,
      );
    const entries = await withWriters(db, appEntries(l, rows.rows));
    if (entries.length > 0) yield entries;
    after = String(upTo);
  }
}

/** Rows of the app's table as entries, named by primary key or REF#N (see the top of this file). */
function appEntries(l: Extract<AuditLedger, { kind: 'mapped' }>, rows: readonly AppRow[]): AuditEntry[] {
  const entries = rows.map((r) => ({
    pk: r.pk === null || r.pk === undefined ? null : String(r.pk),
    entry: {
      entryId: '',
      userId: String(r.user_id),
      credits: Number(r.credits),
      paymentRef: String(r.ref).trim(),
      byPerson: false,
      livemode: null,
      createdAt: appSeconds(r.created_at, l.mapping.createdAtFormat) ?? 0,
    } as AuditEntry,
  }));
  entries.sort(
    (a, b) =>
      cmp(a.entry.paymentRef, b.entry.paymentRef) ||
      a.entry.createdAt - b.entry.createdAt ||
      a.entry.credits - b.entry.credits ||
      cmp(a.entry.userId, b.entry.userId) ||
      cmp(a.pk ?? '', b.pk ?? ''),
  );
  let n = 0;
  entries.forEach((e, i) => {
    n = i > 0 && entries[i - 1]!.entry.paymentRef === e.entry.paymentRef ? n + 1 : 1;
    e.entry.entryId = l.key ? (e.pk ?? '') : `${e.entry.paymentRef}#${n}`;
  });
  return entries.map((e) => e.entry);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The app's time column as unix seconds: a timestamp (Postgres gives a Date), a number in the
 * configured unit, or text (ISO-8601, or `YYYY-MM-DD HH:MM:SS` taken as UTC). Null when unreadable.
 */
export function appSeconds(v: unknown, format: LedgerMapping['createdAtFormat']): number | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : Math.floor(v.getTime() / 1000);
  const s = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // A text column may hold milliseconds whatever the config says: no payment is from 1973 in ms.
    return Math.floor(format === 'unix_ms' || n > 1e11 ? n / 1000 : n);
  }
  let iso = /^\d{4}-\d\d-\d\d \d/.test(s) ? s.replace(' ', 'T') : s;
  if (iso.includes('T') && !/([zZ]|[+-]\d\d(:?\d\d)?)$/.test(iso)) iso += 'Z';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : Math.floor(t / 1000);
}

/**
 * What the tool's own ledger knows of the app rows it wrote (the app's table has no column for
 * it): written by `assign` (a person), and the mode.
 */
async function withWriters(db: Kysely<Database>, entries: AuditEntry[]): Promise<AuditEntry[]> {
  if (entries.length === 0 || !(await ownSchemaTables(db)).has('credit_ledger')) return entries;
  const byRef = new Map<string, { person: boolean; livemode: boolean; key: string | null }>();
  for (const part of chunks([...new Set(entries.map((e) => e.paymentRef))], 400)) {
    const rows = await db
      .selectFrom('credit_ledger')
      .select(['payment_key', 'checkout_session_id', 'payment_intent_id', 'reason', 'livemode'])
      .where('kind', '=', 'purchase')
      .where((eb) => naming(eb, part))
      .execute();
    for (const r of rows) {
      const w = { person: r.reason !== null, livemode: Number(r.livemode) === 1, key: r.payment_key };
      for (const id of [r.payment_key, r.checkout_session_id, r.payment_intent_id]) if (id) byRef.set(id, w);
    }
  }
  // A reassignment leaves the app's purchase row as it was and adds two manual rows: the credits
  // are with the last reassignment's user, by a person's decision.
  const holders = await reassignedTo(
    db,
    [...byRef.values()].flatMap((w) => (w.key ? [w.key] : [])),
  );
  return entries.map((e) => {
    const w = byRef.get(e.paymentRef);
    if (!w) return e;
    const userId = w.key !== null ? holders.get(w.key) : undefined;
    if (userId !== undefined) return { ...e, userId, byPerson: true, livemode: w.livemode };
    return { ...e, byPerson: w.person, livemode: w.livemode };
  });
}

// ---------------------------------------------------------------------------------------------
// The same payment, resolutions

/**
 * Entries under one of these ids as payment key, session id or PaymentIntent id, asked the way the
 * partial indexes of migrations 0006 and 0008 serve (see ledgerEntriesForPayment): a session's
 * entries keyed by its PaymentIntent id are found when `ids` holds that PaymentIntent id too.
 */
function naming(eb: ExpressionBuilder<Database, 'credit_ledger'>, ids: readonly string[]) {
  return eb.or([
    eb('payment_key', 'in', ids),
    sessionNotKey(ids),
    inPartialIndex('payment_intent_id', ids, INTENT_NOT_KEY),
  ]);
}

/**
 * For each payment (its pair of ids, known after reading Stripe: the PaymentIntent id whenever it
 * has one), the purchase entries that name it by either id, keyed by each of its ids. Entries a person reversed (`audit resolve --reverse`)
 * no longer credit anything and are left out.
 */
export async function samePaymentEntries(
  db: Kysely<Database>,
  ledger: AuditLedger,
  payments: readonly PaymentIdPair[],
): Promise<Map<string, SameEntry[]>> {
  const ids = [...new Set(payments.flatMap((p) => [p.checkoutSession, p.paymentIntent]).filter((x) => x !== null))];
  const found: AuditEntry[] = [];
  for (const part of chunks(ids, 400)) found.push(...(await entriesNaming(db, ledger, part)));
  const reversed = await resolvedAmong(
    db,
    ledger,
    found.map((e) => e.entryId),
    await ownSchemaTables(db),
    'reversed',
  );
  // By reference, each entry once (two chunks can both name it): a payment's entries are looked up,
  // not searched for among all of them.
  const byRef = new Map<string, Map<string, SameEntry>>();
  for (const e of found) {
    if (reversed.has(e.entryId)) continue;
    const of = byRef.get(e.paymentRef) ?? new Map<string, SameEntry>();
    of.set(e.entryId, { entryId: e.entryId, paymentRef: e.paymentRef, createdAt: e.createdAt });
    byRef.set(e.paymentRef, of);
  }
  const out = new Map<string, SameEntry[]>();
  for (const p of payments) {
    const pair = [...new Set([p.checkoutSession, p.paymentIntent].filter((x) => x !== null))];
    const same = pair.flatMap((id) => [...(byRef.get(id)?.values() ?? [])]);
    for (const id of pair) out.set(id, same);
  }
  return out;
}

/** The purchase entries whose reference is one of `ids`. */
export async function entriesNaming(
  db: Kysely<Database>,
  ledger: AuditLedger,
  ids: readonly string[],
): Promise<AuditEntry[]> {
  if (ids.length === 0) return [];
  if (ledger.kind === 'own') {
    if (!(await ownSchemaTables(db)).has('credit_ledger')) return [];
    const rows = await db
      .selectFrom('credit_ledger')
      .selectAll()
      .where('kind', '=', 'purchase')
      .where((eb) => naming(eb, ids))
      .execute();
    return withHolders(db, rows.map(ownEntry));
  }
  const ref = sql.ref(ledger.mapping.columns.paymentRef);
  const rows =
    await sql<AppRow>`SELECT ${appColumns(db, ledger)} FROM ${tableRef(ledger.mapping.schema, ledger.mapping.table)} WHERE ${ref} IN (${sql.join(ids)})`.execute(
      db,
    );
  return withWriters(db, appEntries(ledger, rows.rows));
}

/** Which of these entries a person resolved (with `outcome`: only those resolved so). */
export async function resolvedAmong(
  db: Kysely<Database>,
  ledger: AuditLedger,
  entryIds: readonly string[],
  tables?: ReadonlySet<string>,
  outcome?: 'accepted' | 'reversed',
): Promise<Set<string>> {
  const done = new Set<string>();
  if (entryIds.length === 0 || !(tables ?? (await ownSchemaTables(db))).has(RESOLUTIONS)) return done;
  for (const part of chunks([...new Set(entryIds)], 400)) {
    let q = db
      .selectFrom('stripe_credits_audit_resolutions')
      .select('entry_id')
      .where('ledger', '=', ledgerName(ledger))
      .where('entry_id', 'in', part);
    if (outcome) q = q.where('outcome', '=', outcome);
    for (const r of await q.execute()) done.add(r.entry_id);
  }
  return done;
}
