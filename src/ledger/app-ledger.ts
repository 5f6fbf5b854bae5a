import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { AppConfig, BalanceConfig, LedgerMapping } from '../config.js';
import { ConfigError } from '../errors.js';
import { engineFor } from './engine.js';
import { paddedChunks } from './chunks.js';
import { columnOf, describeTable, qualifiedName, tableRef as introspectedRef } from './introspect.js';
import type { Database } from './schema.js';
import { verifyUsersTable, type UsersTable } from './users.js';

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

const tableRef = (t: { schema: string | null; table: string }) => introspectedRef(t.schema, t.table);

/** `schema.table` or `table`, for messages. */
export const tableLabel = (t: { schema: string | null; table: string }): string => qualifiedName(t.schema, t.table);

/** What the tool knows of a credit it writes into the app's table. */
export interface AppCredit {
  userId: string;
  credits: number;
  /** The reference the app's webhook would write (null for manual entries). */
  ref: string | null;
}

/** The id the tool writes for a payment: the kind `refKind` names when the payment has one. */
export function refFor(
  m: LedgerMapping,
  p: { paymentKey: string; checkoutSession: string | null; paymentIntent: string | null },
): string {
  return (m.refKind === 'checkout_session' ? p.checkoutSession : p.paymentIntent) ?? p.paymentKey;
}

/**
 * Which of these ids (PaymentIntent and Checkout Session ids) the app's table holds as a reference.
 * The ids come back as text (a Postgres CHAR(n) column would return them blank-padded, and no
 * padded id is ever equal to the one the tool looks for).
 */
export async function appRefsFound(
  db: Kysely<Database>,
  m: LedgerMapping,
  ids: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  const ref = sql.ref(m.columns.paymentRef);
  // Padded to a few lengths: few statements prepared (chunks.ts).
  for (const part of paddedChunks([...new Set(ids)], CHUNK)) {
    const r = await sql<{
      ref: string;
    }>`SELECT DISTINCT ${engineFor(db).asText(ref)} AS ref FROM ${tableRef(m)} WHERE ${ref} IN (${sql.join(part)})`.execute(
      db,
    );
    for (const row of r.rows) found.add(String(row.ref));
  }
  return found;
}

/**
 * A reference the tool can read: a plain PaymentIntent id (`pi_…`) or Checkout Session id
 * (`cs_test_…`, `cs_live_…`), nothing before or after it. Anything else (`ch_…`, `evt_…`,
 * `stripe:pi_…`, `pi_…-refund`) names a payment the tool cannot recognise as credited.
 */
export function readableRef(db: Kysely<Database>, ref: RawBuilder<unknown>): RawBuilder<boolean> {
  return engineFor(db).readableRef(ref);
}

/**
 * A refund's or dispute's id (`re_…`, `pyr_…`, `dp_…`, `du_…`): the reference of a reversal the tool
 * wrote into the app's table (see insertReversals), or of the app's own refund rows. Not a payment,
 * so not one the tool should have recognised as credited either: neither readable nor a warning.
 */
export function reversalRef(db: Kysely<Database>, ref: RawBuilder<unknown>): RawBuilder<boolean> {
  const r = engineFor(db).asText(ref);
  return sql<boolean>`(substr(${r}, 1, 3) IN ('re_', 'dp_', 'du_') OR substr(${r}, 1, 4) = 'pyr_')`;
}

/** What the app's table holds as references: any the tool can read, and how many it cannot (with examples). */
export interface AppRefSummary {
  readable: boolean;
  unreadable: number;
  examples: string[];
}

/**
 * Reads the app's references once, for the first-run decision: a table that holds readable
 * references shows the tool what the app credited; one that also holds references the tool cannot
 * read hides some of it (those payments would be credited a second time).
 */
export async function appLedgerRefs(db: Kysely<Database>, m: LedgerMapping): Promise<AppRefSummary> {
  const ref = sql.ref(m.columns.paymentRef);
  const t = tableRef(m);
  const readable = await sql<{ one: number }>`SELECT 1 AS one FROM ${t} WHERE ${readableRef(db, ref)} LIMIT 1`.execute(
    db,
  );
  const bad = await sql<{
    n: number | string;
  }>`SELECT count(*) AS n FROM ${t} WHERE ${ref} IS NOT NULL AND NOT ${readableRef(db, ref)} AND NOT ${reversalRef(db, ref)}`.execute(
    db,
  );
  const unreadable = Number(bad.rows[0]?.n ?? 0);
  const examples =
    unreadable > 0
      ? (
          await sql<{
            ref: string;
          }>`SELECT DISTINCT ${engineFor(db).asText(ref)} AS ref FROM ${t} WHERE ${ref} IS NOT NULL AND NOT ${readableRef(db, ref)} AND NOT ${reversalRef(db, ref)} LIMIT 3`.execute(
            db,
          )
        ).rows.map((r) => String(r.ref))
      : [];
  return { readable: readable.rows.length > 0, unreadable, examples };
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
export async function insertAppCredits(
  trx: Kysely<Database>,
  m: LedgerMapping,
  credits: readonly AppCredit[],
  kind: 'purchase' | 'manual',
  at: Date,
): Promise<void> {
  if (credits.length === 0) return;
  const consts = Object.entries(kind === 'purchase' ? m.set : m.setManual);
  const cols = [
    m.columns.userId,
    m.columns.credits,
    m.columns.paymentRef,
    ...(m.columns.createdAt ? [m.columns.createdAt] : []),
    ...consts.map(([c]) => c),
  ];
  const createdAt = createdAtValue(m, at);
  const engine = engineFor(trx);
  for (const part of engine.statementParts(credits, INSERT_CHUNK)) {
    const rows = part.map((c) => {
      const values: RawBuilder<unknown>[] = [sql`${c.userId}`, sql`${c.credits}`, sql`${c.ref}`];
      if (m.columns.createdAt) values.push(sql`${createdAt}`);
      for (const [, v] of consts) values.push(engine.constant(v));
      return sql`(${sql.join(values)})`;
    });
    await sql`INSERT INTO ${tableRef(m)} (${sql.join(cols.map((c) => sql.id(c)))}) VALUES ${sql.join(rows)}`.execute(
      trx,
    );
  }
}

/**
 * Moves the balance column of each user by the sum of their credits here, in one statement. A user
 * whose row is missing fails the transaction: a credit the app's balance does not show would be
 * worse than a run that stops and says why.
 */
export async function moveBalances(
  trx: Kysely<Database>,
  b: BalanceConfig,
  credits: readonly AppCredit[],
): Promise<void> {
  const byUser = new Map<string, number>();
  for (const c of credits) if (c.credits !== 0) byUser.set(c.userId, (byUser.get(c.userId) ?? 0) + c.credits);
  if (byUser.size === 0) return;
  const key = sql.ref(b.key);
  const col = sql.ref(b.column);
  for (const part of engineFor(trx).statementParts([...byUser], CHUNK / 2)) {
    const cases = part.map(([user, n]) => sql`WHEN ${user} THEN CAST(${n} AS BIGINT)`);
    const r =
      await sql`UPDATE ${tableRef(b)} SET ${col} = COALESCE(${col}, 0) + (CASE ${key} ${sql.join(cases, sql` `)} END) WHERE ${key} IN (${sql.join(part.map(([u]) => u))})`.execute(
        trx,
      );
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
 * Serialises the tool's writers per payment key for the rest of the transaction, so that the check
 * of the app's table and the insert after it cannot interleave with another writer's
 * (Engine.lockPaymentKeys: Postgres locks; SQLite holds the write lock from the transaction's start).
 */
export async function lockPaymentKeys(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  await engineFor(trx).lockPaymentKeys(trx, keys);
}

/** A user's balance as the app reads it: the balance column, else the sum of the app's ledger. */
export async function appBalance(
  db: Kysely<Database>,
  cfg: Pick<AppConfig, 'ledger' | 'balance'>,
  userId: string,
): Promise<number | null> {
  if (cfg.balance) {
    const b = cfg.balance;
    const r = await sql<{
      v: number | string | null;
    }>`SELECT ${sql.ref(b.column)} AS v FROM ${tableRef(b)} WHERE ${sql.ref(b.key)} = ${userId}`.execute(db);
    return r.rows.length > 0 ? Number(r.rows[0]!.v ?? 0) : null;
  }
  if (cfg.ledger) {
    const m = cfg.ledger;
    const r = await sql<{
      v: number | string | null;
    }>`SELECT COALESCE(SUM(${sql.ref(m.columns.credits)}), 0) AS v FROM ${tableRef(m)} WHERE ${sql.ref(m.columns.userId)} = ${userId}`.execute(
      db,
    );
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

/** A table as the engine finds it (SQLite: case-insensitively, `main` by default; Postgres: through the search path), or null. */
async function resolvedTable(
  db: Kysely<Database>,
  t: { schema: string | null; table: string },
): Promise<string | null> {
  const info = await describeTable(db, t.schema, t.table);
  return info ? engineFor(db).tableIdentity(info, t) : null;
}

/** A `ledger` or `balance` mapping that names a table the tool must not write there. */
export interface MappingConflict {
  key: 'ledger' | 'balance';
  message: string;
  hint: string;
}

/**
 * The mapped ledger gets a new row per credit: mapped onto the users table it would add a "user"
 * per payment. The balance moves a column on every row whose key is the user: on the ledger's table
 * it would rewrite the user's credit entries. (A balance on the users table is its purpose.)
 */
export async function mappingConflicts(
  db: Kysely<Database>,
  cfg: Pick<AppConfig, 'users' | 'ledger' | 'balance'>,
): Promise<MappingConflict[]> {
  const out: MappingConflict[] = [];
  if (!cfg.ledger) return out;
  const ledger = await resolvedTable(db, cfg.ledger);
  if (ledger === null) return out;
  if (ledger === (await resolvedTable(db, cfg.users))) {
    out.push({
      key: 'ledger',
      message: `ledger.table "${tableLabel(cfg.ledger)}" is the users table (users.table "${tableLabel(cfg.users)}"): the tool inserts a row there for every credit, which would add a user per payment`,
      hint: 'map ledger.table onto the app\'s table of credit entries; for a balance column on the user row, configure "balance" instead',
    });
  }
  if (cfg.balance && ledger === (await resolvedTable(db, cfg.balance))) {
    out.push({
      key: 'balance',
      message: `balance.table "${tableLabel(cfg.balance)}" is the ledger's table (ledger.table "${tableLabel(cfg.ledger)}"): moving a balance there would rewrite the user's credit entries`,
      hint: 'set balance.table to the table with one row per user (default: users.table), or remove "balance"',
    });
  }
  return out;
}

/**
 * Checks that the tables the config names exist with the columns it names: the users table, the
 * mapped ledger and the balance column. A missing one is a configuration error naming what the
 * table actually has. (`doctor` checks more: types, NOT NULL columns, indexes.) Returns the users
 * table as found, for the lookups.
 */
export async function verifyAppTables(
  db: Kysely<Database>,
  cfg: Pick<AppConfig, 'users' | 'ledger' | 'balance'>,
): Promise<UsersTable> {
  const users = await verifyUsersTable(db, cfg.users);
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
    await checkMappedTable(db, 'ledger', m, wanted);
  }
  const conflict = (await mappingConflicts(db, cfg))[0];
  if (conflict) throw new ConfigError(conflict.message, conflict.hint);
  if (cfg.balance) {
    const b = cfg.balance;
    await checkMappedTable(db, 'balance', b, [
      ['balance.column', b.column],
      ['balance.key', b.key],
    ]);
  }
  return users;
}

/** A mapped table and the columns the config names in it, found as doctor finds them (introspect.ts). */
async function checkMappedTable(
  db: Kysely<Database>,
  where: string,
  t: { schema: string | null; table: string },
  wanted: Array<[string, string]>,
): Promise<void> {
  const info = await describeTable(db, t.schema, t.table);
  if (!info)
    throw new ConfigError(
      `${where} table "${tableLabel(t)}" not found in the database`,
      `set ${where}.table in the config file to the app's table, and check --db`,
    );
  for (const [key, col] of wanted) {
    if (!columnOf(db, info, col)) {
      throw new ConfigError(
        `${where} table "${tableLabel(t)}" has no column "${col}" (${key}); it has: ${info.columns.map((c) => c.name).join(', ')}`,
        `set ${key} in the config file to the right column`,
      );
    }
  }
}
