import { sql, type Kysely } from 'kysely';
import type { UsersConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Payment, MatchConfig, User, UserDirectory } from '../reconcile/types.js';
import { customerOf, emailCandidates, idCandidates } from '../reconcile/match.js';
import { asText, engineOf, idAsRead } from './engine.js';
import { paddedChunks } from './chunks.js';
import { compiledOnce } from './compile-once.js';
import { TOOL_TABLES, type Database } from './schema.js';

/** The app's users table: read only. Its name and columns come from the config and are checked at start. */

function tableLabel(cfg: UsersConfig): string {
  return cfg.schema ? `${cfg.schema}.${cfg.table}` : cfg.table;
}

function tableRef(cfg: UsersConfig) {
  return cfg.schema ? sql.id(cfg.schema, cfg.table) : sql.id(cfg.table);
}

/** The type of the users table's id column (as Postgres names it, or as SQLite's table declares it), once verifyUsersTable has seen it. */
const idTypes = new WeakMap<Kysely<Database>, string>();

/**
 * A transaction of `db` knows what verifyUsersTable found through `db` (the users id's type, which
 * decides how ids are compared: Postgres' primary key index serves an integer or uuid id only when
 * it is compared in its own type).
 */
export function usersTableKnownIn(db: Kysely<Database>, trx: Kysely<Database>): void {
  const type = idTypes.get(db);
  if (type !== undefined) idTypes.set(trx, type);
}

const CANONICAL_INT = /^-?(0|[1-9][0-9]{0,18})$/;
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `id` is one of these texts, exactly, or null when none of them can be an id of this column.
 * SQLite compares with the column's affinity and never fails ('042' finds 42: the callers keep
 * only rows whose id reads back as exactly the text). Postgres would raise an error comparing an
 * integer or uuid column with arbitrary text, so it compares the column as text; for integer and
 * uuid columns it instead keeps only the texts that are such a value written the way Postgres
 * writes it (which is all the exact match could find) and compares in the column's own type, so
 * that the primary key's index serves the lookup.
 */
function idIn(db: Kysely<Database>, idCol: ReturnType<typeof sql.ref>, values: readonly string[]) {
  if (engineOf(db) !== 'postgres') return sql<boolean>`${idCol} IN (${sql.join(values)})`;
  const type = idTypes.get(db);
  if (type === 'int2' || type === 'int4' || type === 'int8') {
    const ints = values.filter((v) => CANONICAL_INT.test(v) && BigInt(v) >= INT8_MIN && BigInt(v) <= INT8_MAX);
    return ints.length ? sql<boolean>`${idCol} = ANY(CAST(${ints} AS bigint[]))` : null;
  }
  if (type === 'uuid') {
    const uuids = values.filter((v) => CANONICAL_UUID.test(v));
    return uuids.length ? sql<boolean>`${idCol} = ANY(CAST(${uuids} AS uuid[]))` : null;
  }
  return sql<boolean>`${asText(db, idCol)} IN (${sql.join(values)})`;
}

/** A number with ASCII spaces around it: what an integer id column reads back without them. */
const SPACED_NUMBER = /^ *[0-9]+ *$/;

/** Whether the users id column is an integer type (Postgres' int2/4/8; SQLite's INTEGER affinity). */
function integerIds(db: Kysely<Database>): boolean {
  const type = idTypes.get(db);
  if (type === undefined) return false;
  return engineOf(db) === 'postgres'
    ? type === 'int2' || type === 'int4' || type === 'int8'
    : type.toUpperCase().includes('INT');
}

/**
 * The text a payment's id is looked up as. Ids are exact text (a TEXT id " 42" is not "42"), except
 * that an integer column cannot hold spaces (SQLite stores " 42 " as 42), so there " 42 " can only
 * mean user 42.
 */
function lookupText(db: Kysely<Database>, id: string): string {
  return integerIds(db) && SPACED_NUMBER.test(id) ? id.trim() : id;
}

/** Postgres: the schemas an unqualified table name is looked up in, in order (the search path). */
async function searchPath(db: Kysely<Database>): Promise<string[]> {
  const r = await sql<{
    s: string;
  }>`SELECT s FROM unnest(current_schemas(false)) WITH ORDINALITY AS t(s, i) ORDER BY i`.execute(db);
  return r.rows.map((x) => x.s);
}

/**
 * Checks that the configured users table and columns exist. A missing one is a configuration error
 * that names what was expected and what the table actually has. On Postgres, `users.table` without
 * a schema is the table the queries will find through the search path (as `FROM users` would),
 * never a table of that name in another schema (Supabase's `auth.users`, say).
 */
export async function verifyUsersTable(db: Kysely<Database>, cfg: UsersConfig): Promise<void> {
  const tables = await db.introspection.getTables();
  const pg = engineOf(db) === 'postgres';
  // SQLite: names are case-insensitive, and the tables listed are the main database's, which
  // `main.users` names as well.
  const same = (a: string, b: string) => (pg ? a === b : a.toLowerCase() === b.toLowerCase());
  const schema = !pg && cfg.schema?.toLowerCase() === 'main' ? null : cfg.schema;
  let table = tables.find((t) => same(t.name, cfg.table) && (schema === null || t.schema === schema));
  if (pg && cfg.schema === null) {
    table = undefined;
    for (const s of await searchPath(db)) {
      table = tables.find((t) => t.name === cfg.table && t.schema === s);
      if (table) break;
    }
  }
  if (!table) {
    const names = tables.map((t) =>
      t.schema && t.schema !== 'public' && t.schema !== 'main' ? `${t.schema}.${t.name}` : t.name,
    );
    const appTables = names.filter(
      (n) => !(TOOL_TABLES as readonly string[]).includes(n) && !n.startsWith('stripe_credits_migration'),
    );
    const elsewhere = tables.filter((t) => t.name === cfg.table && t.schema).map((t) => `${t.schema}.${t.name}`);
    throw new ConfigError(
      `users table "${tableLabel(cfg)}" not found in the database (it has: ${appTables.length ? appTables.join(', ') : 'no tables'})`,
      elsewhere.length > 0 && pg
        ? `there is ${elsewhere.join(', ')}, outside the search path: set users.table to "${elsewhere[0]}" in the config file`
        : !pg && schema !== null
          ? `SQLite finds the app's tables in its main database: set users.table to "${cfg.table}" or "main.${cfg.table}"`
          : 'set users.table in the config file to the table that holds your users, and check --db',
    );
  }
  const have = table.columns.map((c) => c.name);
  const idType = table.columns.find((c) => same(c.name, cfg.id))?.dataType;
  if (idType) idTypes.set(db, idType);
  const wanted: Array<[string, string | null]> = [
    ['users.id', cfg.id],
    ['users.email', cfg.email],
    ['users.name', cfg.name],
    ['users.stripeCustomerId', cfg.stripeCustomerId],
  ];
  for (const [key, col] of wanted) {
    if (col !== null && !have.some((h) => same(h, col))) {
      throw new ConfigError(
        `users table "${tableLabel(cfg)}" has no column "${col}" (${key}); it has: ${have.join(', ')}`,
        `set ${key} in the config file to the right column${key === 'users.name' || key === 'users.stripeCustomerId' ? ', or null' : ''}`,
      );
    }
  }
}

/**
 * How users are matched by email and by Stripe customer: the conditions of the lookups below.
 * `doctor` asks the engine whether it answers them through an index.
 */
export function emailIn(db: Kysely<Database>, cfg: UsersConfig, emails: readonly string[]) {
  return sql<boolean>`lower(trim(${asText(db, sql.ref(cfg.email))})) IN (${sql.join(emails)})`;
}

export function customerIn(db: Kysely<Database>, column: string, customers: readonly string[]) {
  return sql<boolean>`${asText(db, sql.ref(column))} IN (${sql.join(customers)})`;
}

/** A lookup of users by email as loadUserDirectory makes it, for `doctor` to have planned. */
export function emailLookup(db: Kysely<Database>, cfg: UsersConfig) {
  return sql`SELECT ${sql.ref(cfg.id)} FROM ${tableRef(cfg)} WHERE ${emailIn(db, cfg, ['someone@example.com'])}`;
}

/** A lookup of users by Stripe customer as loadUserDirectory makes it, for `doctor` to have planned. */
export function customerLookup(db: Kysely<Database>, cfg: UsersConfig, column: string) {
  return sql`SELECT ${sql.ref(cfg.id)} FROM ${tableRef(cfg)} WHERE ${customerIn(db, column, ['cus_doctor'])}`;
}

const CHUNK = 500;

/**
 * Whether a text from Stripe can be compared in SQL at all. Postgres refuses a NUL byte in any text
 * parameter (invalid byte sequence, failing the whole run), and no id or email in a table can hold
 * one: such a value matches nobody, so it is left out of the lookups, never sent.
 */
export const comparable = (v: string): boolean => !v.includes('\u0000');

interface UserRow {
  id: string | number | bigint;
  email: string | null;
  customer?: string | null;
}

/**
 * Looks up, in a few batched queries, every user a batch of payments might point at (by id,
 * Stripe customer and email) and returns them as an in-memory directory for the pure core.
 */
export async function loadUserDirectory(
  db: Kysely<Database>,
  cfg: UsersConfig,
  match: MatchConfig,
  payments: readonly Payment[],
  /** Look every step up, also past the one that decides (for `lookup`, which explains each step). */
  opts: { everyStep?: boolean } = {},
): Promise<UserDirectory> {
  const ids = new Set<string>();
  const idOf = (v: string) => lookupText(db, v);
  for (const p of payments) for (const c of idCandidates(p, match)) if (comparable(c.value)) ids.add(idOf(c.value));
  const byId = new Map<string, User>();
  const byCustomer = new Map<string, User[]>();
  const byEmail = new Map<string, User[]>();
  const t = tableRef(cfg);
  const idCol = sql.ref(cfg.id);
  const idOut = idAsRead(db, idCol);
  const emailCol = sql.ref(cfg.email);
  const toUser = (r: UserRow): User => ({ id: String(r.id), email: r.email });
  const add = (map: Map<string, User[]>, key: string, u: User) => {
    const list = map.get(key) ?? [];
    if (!list.some((x) => x.id === u.id)) list.push(u);
    map.set(key, list);
  };

  // What the SQL text of these lookups depends on besides the lists' lengths (see compiledOnce).
  const shape = `users|${JSON.stringify(cfg)}|${idTypes.get(db) ?? ''}`;
  for (const part of paddedChunks([...ids], CHUNK)) {
    // Ids from Stripe are arbitrary text: only rows whose id reads back as exactly that text count.
    const where = idIn(db, idCol, part);
    if (!where) continue;
    const rows = await compiledOnce(db, `${shape}|by id|${part.length}`, part, () =>
      sql<UserRow>`SELECT ${idOut} AS id, ${emailCol} AS email FROM ${t} WHERE ${where}`.compile(db),
    );
    const wanted = new Set(part);
    for (const r of rows.rows) {
      const u = toUser(r);
      if (wanted.has(u.id)) byId.set(u.id, u);
    }
  }
  // The chain stops at the first step that finds a user: look customers up only for payments no id
  // resolved, and emails only for those no customer resolved either (most payments carry an id).
  const noId = opts.everyStep
    ? payments
    : payments.filter((p) => !idCandidates(p, match).some((c) => byId.has(idOf(c.value))));
  if (cfg.stripeCustomerId) {
    const column = cfg.stripeCustomerId;
    const customers = new Set<string>();
    for (const p of noId) {
      const cus = customerOf(p);
      if (cus && comparable(cus)) customers.add(cus);
    }
    const cusCol = sql.ref(cfg.stripeCustomerId);
    for (const part of paddedChunks([...customers], CHUNK)) {
      const rows = await compiledOnce(db, `${shape}|by customer|${part.length}`, part, () =>
        sql<UserRow>`SELECT ${idOut} AS id, ${emailCol} AS email, ${cusCol} AS customer FROM ${t} WHERE ${customerIn(db, column, part)}`.compile(
          db,
        ),
      );
      for (const r of rows.rows) if (r.customer) add(byCustomer, r.customer, toUser(r));
    }
  }
  const emails = new Set<string>();
  if (match.byEmail) {
    for (const p of noId) {
      const cus = cfg.stripeCustomerId && !opts.everyStep ? customerOf(p) : null;
      if (cus && (byCustomer.get(cus)?.length ?? 0) > 0) continue;
      for (const e of emailCandidates(p, match)) if (comparable(e)) emails.add(e);
    }
  }
  for (const part of paddedChunks([...emails], CHUNK)) {
    const rows = await compiledOnce(db, `${shape}|by email|${part.length}`, part, () =>
      sql<UserRow>`SELECT ${idOut} AS id, ${emailCol} AS email FROM ${t} WHERE ${emailIn(db, cfg, part)}`.compile(db),
    );
    for (const r of rows.rows) if (r.email) add(byEmail, r.email.trim().toLowerCase(), toUser(r));
  }

  return {
    byId: (id) => byId.get(idOf(id)),
    byCustomer: (c) => byCustomer.get(c) ?? [],
    byEmail: (e) => byEmail.get(e) ?? [],
  };
}
