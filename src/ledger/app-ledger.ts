import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { AppConfig, BalanceConfig, LedgerMapping, SqlConstant } from '../config.js';
import { ConfigError } from '../errors.js';
import { engineOf } from './engine.js';
import type { Database } from './schema.js';
import { verifyUsersTable } from './users.js';

/**
 * The app's own tables, when the config maps the ledger onto its table (`ledger`) or keeps a
 * balance on its user row (`balance`): SPEC "Adopting an app that already credits". The tool writes
 * there in the app's shape and never alters those tables' structure. What the app's table has no
 * column for (actor, reason, run, mode, payment key) stays in the tool's own `credit_ledger`, written
 * in the same transaction: that row, unique on (kind, payment_key), is also what keeps the tool's
 * own writers from crediting a payment twice.
 */

/** Payments per lookup in the app's table. */
const CHUNK = 1000;
/** Rows per insert into the app's table (each row binds a handful of values). */
const INSERT_CHUNK = 500;
/** The first key of the Postgres advisory locks taken per payment key (the run lock uses the one-key form). */
const PAYMENT_LOCK_SPACE = 0x5343; // 'SC'

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function tableRef(t: { schema: string | null; table: string }) {
  return t.schema ? sql.id(t.schema, t.table) : sql.id(t.table);
}

export function tableLabel(t: { schema: string | null; table: string }): string {
  return t.schema ? `${t.schema}.${t.table}` : t.table;
}

/** What the tool knows of a credit it writes into the app's table. */
export interface AppCredit {
  userId: string;
  credits: number;
  /** The reference the app's webhook would write (null for manual entries). */
  ref: string | null;
}

/** The id the tool writes for a payment: the kind `refKind` names when the payment has one. */
export function refFor(m: LedgerMapping, p: { paymentKey: string; checkoutSession: string | null; paymentIntent: string | null }): string {
  return (m.refKind === 'checkout_session' ? p.checkoutSession : p.paymentIntent) ?? p.paymentKey;
}

/** Which of these ids (PaymentIntent and Checkout Session ids) the app's table holds as a reference. */
export async function appRefsFound(db: Kysely<Database>, m: LedgerMapping, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const ref = sql.ref(m.columns.paymentRef);
  for (const part of chunks([...new Set(ids)], CHUNK)) {
    const r = await sql<{ ref: string }>`SELECT DISTINCT ${ref} AS ref FROM ${tableRef(m)} WHERE ${ref} IN (${sql.join(part)})`.execute(db);
    for (const row of r.rows) found.add(String(row.ref));
  }
  return found;
}

/** Whether the app's table holds any payment reference at all (then the tool can see past credits). */
export async function appLedgerHasPayments(db: Kysely<Database>, m: LedgerMapping): Promise<boolean> {
  const ref = sql.ref(m.columns.paymentRef);
  const r = await sql<{ one: number }>`SELECT 1 AS one FROM ${tableRef(m)} WHERE ${ref} IS NOT NULL LIMIT 1`.execute(db);
  return r.rows.length > 0;
}

function bindable(db: Kysely<Database>, v: SqlConstant): RawBuilder<unknown> {
  // better-sqlite3 binds no booleans: SQLite has none and stores them as 1 and 0.
  if (typeof v === 'boolean' && engineOf(db) === 'sqlite') return sql`${v ? 1 : 0}`;
  return sql`${v}`;
}

function createdAtValue(m: LedgerMapping, at: Date): string | number {
  if (m.createdAtFormat === 'unix') return Math.floor(at.getTime() / 1000);
  if (m.createdAtFormat === 'unix_ms') return at.getTime();
  return at.toISOString();
}

/**
 * Inserts credits into the app's table in its own shape: the mapped columns plus the constants of
 * `set` (purchases) or `setManual` (manual entries). One statement per INSERT_CHUNK rows.
 */
export async function insertAppCredits(trx: Kysely<Database>, m: LedgerMapping, credits: readonly AppCredit[], kind: 'purchase' | 'manual', at: Date): Promise<void> {
  if (credits.length === 0) return;
  const consts = Object.entries(kind === 'purchase' ? m.set : m.setManual);
  const cols = [m.columns.userId, m.columns.credits, m.columns.paymentRef, ...(m.columns.createdAt ? [m.columns.createdAt] : []), ...consts.map(([c]) => c)];
  const createdAt = createdAtValue(m, at);
  for (const part of chunks(credits, INSERT_CHUNK)) {
    const rows = part.map((c) => {
      const values: RawBuilder<unknown>[] = [sql`${c.userId}`, sql`${c.credits}`, sql`${c.ref}`];
      if (m.columns.createdAt) values.push(sql`${createdAt}`);
      for (const [, v] of consts) values.push(bindable(trx, v));
      return sql`(${sql.join(values)})`;
    });
    await sql`INSERT INTO ${tableRef(m)} (${sql.join(cols.map((c) => sql.id(c)))}) VALUES ${sql.join(rows)}`.execute(trx);
  }
}

/**
 * Moves the balance column of each user by the sum of their credits here, in one statement. A user
 * whose row is missing fails the transaction: a credit the app's balance does not show would be
 * worse than a run that stops and says why.
 */
export async function moveBalances(trx: Kysely<Database>, b: BalanceConfig, credits: readonly AppCredit[]): Promise<void> {
  const byUser = new Map<string, number>();
  for (const c of credits) if (c.credits !== 0) byUser.set(c.userId, (byUser.get(c.userId) ?? 0) + c.credits);
  if (byUser.size === 0) return;
  const key = sql.ref(b.key);
  const col = sql.ref(b.column);
  for (const part of chunks([...byUser], CHUNK / 2)) {
    const cases = part.map(([user, n]) => sql`WHEN ${user} THEN CAST(${n} AS BIGINT)`);
    const r = await sql`UPDATE ${tableRef(b)} SET ${col} = COALESCE(${col}, 0) + (CASE ${key} ${sql.join(cases, sql` `)} END) WHERE ${key} IN (${sql.join(part.map(([u]) => u))})`.execute(trx);
    const moved = Number(r.numAffectedRows ?? 0n);
    if (moved !== part.length) {
      throw new ConfigError(
        `balance: ${part.length - moved} of ${part.length} users have no row in ${tableLabel(b)} (by ${b.key}); nothing was written`,
        `check the "balance" config (table, key) against the users' ids, e.g. user ${part[0]![0]}`,
      );
    }
  }
}

/**
 * Postgres: serialises the tool's writers per payment key for the rest of the transaction (a
 * transaction-scoped advisory lock per key, taken in one order so that two batches never deadlock),
 * so that the check of the app's table and the insert after it cannot interleave with another
 * writer's. SQLite needs none: the write transaction is taken at its start (BEGIN IMMEDIATE).
 */
export async function lockPaymentKeys(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  if (engineOf(trx) !== 'postgres' || keys.length === 0) return;
  await sql`SELECT pg_advisory_xact_lock(${PAYMENT_LOCK_SPACE}, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(${[...keys]} AS text[])) AS u(k) ORDER BY h) AS s`.execute(trx);
}

/** A user's balance as the app reads it: the balance column, else the sum of the app's ledger. */
export async function appBalance(db: Kysely<Database>, cfg: Pick<AppConfig, 'ledger' | 'balance'>, userId: string): Promise<number | null> {
  if (cfg.balance) {
    const b = cfg.balance;
    const r = await sql<{ v: number | string | null }>`SELECT ${sql.ref(b.column)} AS v FROM ${tableRef(b)} WHERE ${sql.ref(b.key)} = ${userId}`.execute(db);
    return r.rows.length > 0 ? Number(r.rows[0]!.v ?? 0) : null;
  }
  if (cfg.ledger) {
    const m = cfg.ledger;
    const r = await sql<{ v: number | string | null }>`SELECT COALESCE(SUM(${sql.ref(m.columns.credits)}), 0) AS v FROM ${tableRef(m)} WHERE ${sql.ref(m.columns.userId)} = ${userId}`.execute(db);
    return Number(r.rows[0]?.v ?? 0);
  }
  return null;
}

/** Where `appBalance` reads from, for people. */
export function balanceSource(cfg: Pick<AppConfig, 'ledger' | 'balance'>): string {
  if (cfg.balance) return `${tableLabel(cfg.balance)}.${cfg.balance.column}`;
  if (cfg.ledger) return `SUM(${tableLabel(cfg.ledger)}.${cfg.ledger.columns.credits})`;
  return 'SUM(credit_ledger.credits)';
}

interface ColumnInfo {
  name: string;
}

async function columnsOf(db: Kysely<Database>, t: { schema: string | null; table: string }): Promise<ColumnInfo[] | null> {
  const tables = await db.introspection.getTables();
  const pg = engineOf(db) === 'postgres';
  let found = tables.filter((x) => x.name === t.table && (t.schema === null || x.schema === t.schema));
  if (pg && t.schema === null && found.length > 1) {
    const r = await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db);
    found = found.filter((x) => x.schema === r.rows[0]?.s);
  }
  return found[0]?.columns ?? null;
}

/**
 * Checks that the tables the config names exist with the columns it names: the users table, the
 * mapped ledger and the balance column. A missing one is a configuration error naming what the
 * table actually has. (`doctor` checks more: types, NOT NULL columns, indexes.)
 */
export async function verifyAppTables(db: Kysely<Database>, cfg: Pick<AppConfig, 'users' | 'ledger' | 'balance'>): Promise<void> {
  await verifyUsersTable(db, cfg.users);
  const check = async (where: string, t: { schema: string | null; table: string }, wanted: Array<[string, string]>) => {
    const cols = await columnsOf(db, t);
    if (!cols) throw new ConfigError(`${where} table "${tableLabel(t)}" not found in the database`, `set ${where}.table in the config file to the app's table, and check --db`);
    const have = cols.map((c) => c.name);
    for (const [key, col] of wanted) {
      if (!have.includes(col)) {
        throw new ConfigError(`${where} table "${tableLabel(t)}" has no column "${col}" (${key}); it has: ${have.join(', ')}`, `set ${key} in the config file to the right column`);
      }
    }
  };
  if (cfg.ledger) {
    const m = cfg.ledger;
    const wanted: Array<[string, string]> = [
      ['ledger.columns.userId', m.columns.userId],
      ['ledger.columns.credits', m.columns.credits],
      ['ledger.columns.paymentRef', m.columns.paymentRef],
      ...(m.columns.createdAt ? [['ledger.columns.createdAt', m.columns.createdAt] as [string, string]] : []),
      ...Object.keys(m.set).map((c) => [`ledger.set.${c}`, c] as [string, string]),
      ...Object.keys(m.setManual).map((c) => [`ledger.setManual.${c}`, c] as [string, string]),
    ];
    await check('ledger', m, wanted);
  }
  if (cfg.balance) {
    const b = cfg.balance;
    await check('balance', b, [
      ['balance.column', b.column],
      ['balance.key', b.key],
    ]);
  }
}
