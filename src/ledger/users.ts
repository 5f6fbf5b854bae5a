import { sql, type Kysely, type TableMetadata } from 'kysely';
import type { UsersConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Payment, MatchConfig, User, UserDirectory } from '../reconcile/types.js';
import { customerOf, emailCandidates, idCandidates } from '../reconcile/match.js';
import { engineFor, type Engine } from './engine.js';
import { paddedChunks } from './chunks.js';
import { Statement, type Shaped } from './compile-once.js';
import { TOOL_TABLES, type Database } from './schema.js';

/** The app's users table: read only. Its name and columns come from the config and are checked at start. */

function tableLabel(cfg: UsersConfig): string {
  return cfg.schema ? `${cfg.schema}.${cfg.table}` : cfg.table;
}

function tableRef(cfg: UsersConfig) {
  return cfg.schema ? sql.id(cfg.schema, cfg.table) : sql.id(cfg.table);
}

/**
 * The app's users table as the tool found it: its configured names and the type of its id column,
 * which decides how ids are compared (Postgres' primary key index serves an integer or uuid id only
 * when it is compared in its own type). Lookups take this object, so none can run without the type.
 */
export class UsersTable implements Shaped {
  constructor(
    readonly cfg: UsersConfig,
    /** As Postgres names it (`int8`, `uuid`), or as SQLite's table declares it; null when unknown. */
    readonly idType: string | null,
  ) {}

  /** What the lookups' SQL depends on besides the lists' lengths (see compile-once.ts). */
  get shapeKey(): string {
    return `${JSON.stringify(this.cfg)}|${this.idType ?? ''}`;
  }

  /** The table as it is now, for a caller that has not verified it (verifyUsersTable does more). */
  static async of(db: Kysely<Database>, cfg: UsersConfig): Promise<UsersTable> {
    return new UsersTable(cfg, await engineFor(db).usersIdType(db, cfg));
  }
}

/** A number with ASCII spaces around it: what an integer id column reads back without them. */
const SPACED_NUMBER = /^ *[0-9]+ *$/;

/**
 * The text a payment's id is looked up as (a function of the id). Ids are exact text (a TEXT id " 42" is not "42"), except
 * that an integer column cannot hold spaces (SQLite stores " 42 " as 42), so there " 42 " can only
 * mean user 42.
 */
function lookupText(db: Kysely<Database>, users: UsersTable): (id: string) => string {
  // Asked once per directory, not per id: every payment's ids go through this several times.
  const integer = users.idType !== null && engineFor(db).isIntegerType(users.idType);
  return integer ? (id) => (SPACED_NUMBER.test(id) ? id.trim() : id) : (id) => id;
}

/**
 * Checks that the configured users table and columns exist, and returns the table with its id
 * type. A missing one is a configuration error that names what was expected and what the table
 * actually has. The table is the one the queries will find (Engine.findTable): on Postgres,
 * `users.table` without a schema is found through the search path, never a table of that name in
 * another schema (Supabase's `auth.users`, say).
 */
export async function verifyUsersTable(db: Kysely<Database>, cfg: UsersConfig): Promise<UsersTable> {
  const engine = engineFor(db);
  const tables = await db.introspection.getTables();
  const table = await engine.findTable(db, tables, cfg.schema, cfg.table);
  if (!table) throw usersTableMissing(engine, tables, cfg);
  const have = table.columns.map((c) => c.name);
  const wanted: Array<[string, string | null]> = [
    ['users.id', cfg.id],
    ['users.email', cfg.email],
    ['users.name', cfg.name],
    ['users.stripeCustomerId', cfg.stripeCustomerId],
  ];
  for (const [key, col] of wanted) {
    if (col !== null && !have.some((h) => engine.sameName(h, col))) {
      throw new ConfigError(
        `users table "${tableLabel(cfg)}" has no column "${col}" (${key}); it has: ${have.join(', ')}`,
        `set ${key} in the config file to the right column${key === 'users.name' || key === 'users.stripeCustomerId' ? ', or null' : ''}`,
      );
    }
  }
  return new UsersTable(cfg, table.columns.find((c) => engine.sameName(c.name, cfg.id))?.dataType || null);
}

/** The users table was not found: what the database has instead, and where to look. */
function usersTableMissing(engine: Engine, tables: readonly TableMetadata[], cfg: UsersConfig): ConfigError {
  const names = tables.map((t) =>
    t.schema && t.schema !== 'public' && t.schema !== 'main' ? `${t.schema}.${t.name}` : t.name,
  );
  const appTables = names.filter(
    (n) => !(TOOL_TABLES as readonly string[]).includes(n) && !n.startsWith('stripe_credits_migration'),
  );
  const elsewhere = tables.filter((t) => t.name === cfg.table && t.schema).map((t) => `${t.schema}.${t.name}`);
  return new ConfigError(
    `users table "${tableLabel(cfg)}" not found in the database (it has: ${appTables.length ? appTables.join(', ') : 'no tables'})`,
    engine.missingTableHint(cfg.schema, cfg.table, elsewhere),
  );
}

/**
 * How users are matched by email and by Stripe customer: the conditions of the lookups below.
 * `doctor` asks the engine whether it answers them through an index.
 */
export function emailIn(db: Kysely<Database>, cfg: UsersConfig, emails: readonly string[]) {
  return sql<boolean>`lower(trim(${engineFor(db).asText(sql.ref(cfg.email))})) IN (${sql.join(emails)})`;
}

export function customerIn(db: Kysely<Database>, column: string, customers: readonly string[]) {
  return sql<boolean>`${engineFor(db).asText(sql.ref(column))} IN (${sql.join(customers)})`;
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

/** The columns every lookup reads: the id as the tool compares it, and the email. */
function userColumns(db: Kysely<Database>, cfg: UsersConfig) {
  return sql`${engineFor(db).idAsRead(sql.ref(cfg.id))} AS id, ${sql.ref(cfg.email)} AS email`;
}

/** Users by id. Ids from Stripe are arbitrary text: only rows whose id reads back as exactly that text count. */
const BY_ID = new Statement(
  (db, users: UsersTable, ids: readonly string[]) => {
    const { cfg } = users;
    const where = engineFor(db).idIn(sql.ref(cfg.id), ids, users.idType) ?? sql<boolean>`FALSE`;
    return sql<UserRow>`SELECT ${userColumns(db, cfg)} FROM ${tableRef(cfg)} WHERE ${where}`.compile(db);
  },
  (_users, ids) => ids,
);

/** Users by Stripe customer (the column users.stripeCustomerId names). */
const BY_CUSTOMER = new Statement(
  (db, users: UsersTable, column: string, customers: readonly string[]) =>
    sql<UserRow>`SELECT ${userColumns(db, users.cfg)}, ${sql.ref(column)} AS customer FROM ${tableRef(users.cfg)} WHERE ${customerIn(db, column, customers)}`.compile(
      db,
    ),
  (_users, _column, customers) => customers,
);

/** Users by email, trimmed and lower-cased on both sides. */
const BY_EMAIL = new Statement(
  (db, users: UsersTable, emails: readonly string[]) =>
    sql<UserRow>`SELECT ${userColumns(db, users.cfg)} FROM ${tableRef(users.cfg)} WHERE ${emailIn(db, users.cfg, emails)}`.compile(
      db,
    ),
  (_users, emails) => emails,
);

/** Users found so far, by what found them. */
class Directory implements UserDirectory {
  readonly ids = new Map<string, User>();
  readonly customers = new Map<string, User[]>();
  readonly emails = new Map<string, User[]>();

  constructor(readonly idText: (id: string) => string) {}

  static user(r: UserRow): User {
    return { id: String(r.id), email: r.email };
  }

  static add(map: Map<string, User[]>, key: string, u: User): void {
    const list = map.get(key) ?? [];
    if (!list.some((x) => x.id === u.id)) list.push(u);
    map.set(key, list);
  }

  readonly byId = (id: string): User | undefined => this.ids.get(this.idText(id));
  readonly byCustomer = (c: string): User[] => this.customers.get(c) ?? [];
  readonly byEmail = (e: string): User[] => this.emails.get(e) ?? [];
}

/**
 * Looks up, in a few batched queries, every user a batch of payments might point at (by id,
 * Stripe customer and email) and returns them as an in-memory directory for the pure core. The
 * chain stops at the first step that finds a user: customers are looked up only for payments no id
 * resolved, and emails only for those no customer resolved either (most payments carry an id).
 */
export async function loadUserDirectory(
  db: Kysely<Database>,
  users: UsersTable,
  match: MatchConfig,
  payments: readonly Payment[],
  /** Look every step up, also past the one that decides (for `lookup`, which explains each step). */
  opts: { everyStep?: boolean } = {},
): Promise<UserDirectory> {
  const dir = new Directory(lookupText(db, users));
  await findByIds(db, users, dir, idsToFind(payments, match, dir));
  const noId = opts.everyStep
    ? payments
    : payments.filter((p) => !idCandidates(p, match).some((c) => dir.byId(c.value) !== undefined));
  if (users.cfg.stripeCustomerId) await findByCustomers(db, users, users.cfg.stripeCustomerId, dir, noId);
  if (match.byEmail) {
    const emails = new Set<string>();
    for (const p of noId) {
      const cus = users.cfg.stripeCustomerId && !opts.everyStep ? customerOf(p) : null;
      if (cus && dir.byCustomer(cus).length > 0) continue;
      for (const e of emailCandidates(p, match)) if (comparable(e)) emails.add(e);
    }
    await findByEmails(db, users, dir, emails);
  }
  return dir;
}

function idsToFind(payments: readonly Payment[], match: MatchConfig, dir: Directory): Set<string> {
  const ids = new Set<string>();
  for (const p of payments)
    for (const c of idCandidates(p, match)) if (comparable(c.value)) ids.add(dir.idText(c.value));
  return ids;
}

async function findByIds(db: Kysely<Database>, users: UsersTable, dir: Directory, ids: Set<string>): Promise<void> {
  const engine = engineFor(db);
  for (const part of paddedChunks([...ids], CHUNK)) {
    // None of these texts can be an id of this column (Engine.idIn): nothing to ask.
    if (engine.idIn(sql.ref(users.cfg.id), part, users.idType) === null) continue;
    const rows = await BY_ID.run(db, users, part);
    const wanted = new Set(part);
    for (const r of rows.rows) {
      const u = Directory.user(r);
      if (wanted.has(u.id)) dir.ids.set(u.id, u);
    }
  }
}

async function findByCustomers(
  db: Kysely<Database>,
  users: UsersTable,
  column: string,
  dir: Directory,
  payments: readonly Payment[],
): Promise<void> {
  const customers = new Set<string>();
  for (const p of payments) {
    const cus = customerOf(p);
    if (cus && comparable(cus)) customers.add(cus);
  }
  for (const part of paddedChunks([...customers], CHUNK)) {
    const rows = await BY_CUSTOMER.run(db, users, column, part);
    for (const r of rows.rows) if (r.customer) Directory.add(dir.customers, r.customer, Directory.user(r));
  }
}

async function findByEmails(db: Kysely<Database>, users: UsersTable, dir: Directory, emails: Set<string>) {
  for (const part of paddedChunks([...emails], CHUNK)) {
    const rows = await BY_EMAIL.run(db, users, part);
    for (const r of rows.rows) if (r.email) Directory.add(dir.emails, r.email.trim().toLowerCase(), Directory.user(r));
  }
}
