import SQLite from 'better-sqlite3';
import type Stripe from 'stripe';
import { sql, type Kysely } from 'kysely';
import {
  DEFAULT_CONFIG_FILE,
  keyIsLive,
  type AppConfig,
  type BalanceConfig,
  type LedgerMapping,
  type Settings,
  type SqlConstant,
} from '../config.js';
import { CliError, ConfigError, StripeAuthError, StripeUnavailableError, maskKey } from '../errors.js';
import { appliedMigrations, MIGRATION_NAMES, openDatabase, parseDbUrl, type OpenDb } from '../ledger/db.js';
import { asText, engineOf, ownSchemaTables } from '../ledger/engine.js';
import { mappingConflicts, readableRef } from '../ledger/app-ledger.js';
import {
  columnOf,
  describeTable,
  indexesOn,
  listTables,
  qualifiedName,
  tableRef,
  uniqueOn,
  usesIndex,
  type ColumnInfo,
  type TableInfo,
} from '../ledger/introspect.js';
import { ledgerModes } from '../ledger/ledger.js';
import type { Database } from '../ledger/schema.js';
import { customerLookup, emailLookup, verifyUsersTable } from '../ledger/users.js';
import { createStripeClient } from '../stripe/client.js';
import { DEFAULT_RETRY, withRetry } from '../stripe/retry.js';

/**
 * `doctor`: checks the configuration against the database and the Stripe key and says what to fix.
 * It only reads: the database is opened read-only (a SQLite file stays byte-for-byte the same), and
 * Stripe is asked one small list request per permission the tool needs.
 */

export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  level: Level;
  message: string;
  /** What to do about it; null when the finding is ok. */
  fix: string | null;
}

export interface DoctorReport {
  /** No finding is `fail` and every check could be made. */
  ok: boolean;
  findings: Finding[];
  /** 0: everything needed is in place; 2: something needed is missing or wrong; 1: a check could not be made (database or Stripe unreachable). */
  exitCode: 0 | 1 | 2;
}

class Findings {
  readonly list: Finding[] = [];
  /** A check could not be made for a reason that is not the configuration's (an unreachable server). */
  toolFailed = false;
  ok(check: string, message: string): void {
    this.list.push({ check, level: 'ok', message, fix: null });
  }
  warn(check: string, message: string, fix: string): void {
    this.list.push({ check, level: 'warn', message, fix });
  }
  fail(check: string, message: string, fix: string | null): void {
    this.list.push({ check, level: 'fail', message, fix });
  }
}

/** SQLite's keywords (https://sqlite.org/lang_keywords.html): a name that is one is quoted. */
const SQLITE_KEYWORDS = new Set(
  (
    'ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY CASCADE CASE CAST CHECK ' +
    'COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT ' +
    'DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER ' +
    'FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER ' +
    'INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL ' +
    'NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES ' +
    'REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN ' +
    'TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT'
  ).split(' '),
);

/**
 * Writes the names in the SQL doctor suggests, quoted where the engine needs it: on Postgres every
 * name that is not plain lower case (an unquoted name is folded to lower case: `CreditTransaction`
 * would name `credittransaction`) or is a keyword, as `quote_ident` does; on SQLite (names are
 * case-insensitive) a name with other characters or that is a keyword.
 */
class Quoter {
  private constructor(
    private readonly pg: boolean,
    private readonly keywords: Set<string>,
  ) {}

  static async of(db: Kysely<Database>): Promise<Quoter> {
    if (engineOf(db) !== 'postgres') return new Quoter(false, SQLITE_KEYWORDS);
    const r = await sql<{ word: string }>`SELECT word FROM pg_catalog.pg_get_keywords() WHERE catcode <> 'U'`.execute(
      db,
    );
    return new Quoter(true, new Set(r.rows.map((x) => x.word.toUpperCase())));
  }

  id(name: string): string {
    const plain = this.pg ? /^[a-z_][a-z0-9_]*$/.test(name) : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
    return plain && !this.keywords.has(name.toUpperCase()) ? name : `"${name.replace(/"/g, '""')}"`;
  }

  table(schema: string | null, table: string): string {
    return schema ? `${this.id(schema)}.${this.id(table)}` : this.id(table);
  }

  /** A CREATE INDEX statement. SQLite names the schema on the index (`main.idx ON t`), Postgres on the table. */
  createIndex(unique: boolean, schema: string | null, table: string, index: string, keys: string): string {
    const on = this.pg
      ? `${this.id(index)} ON ${this.table(schema, table)}`
      : `${this.table(schema, index)} ON ${this.id(table)}`;
    return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${on} (${keys})`;
  }
}

export interface DoctorOptions {
  settings: Settings;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const f = new Findings();
  const { settings } = opts;
  f.ok(
    'config',
    settings.configPath
      ? `read ${settings.configPath}`
      : `no config file (${DEFAULT_CONFIG_FILE} is not in ${opts.cwd}, and neither --config nor STRIPE_CREDITS_CONFIG is given): the defaults`,
  );

  const modes = new Set<boolean>(); // the livemode of payments the ledger holds
  let open: OpenDb | null = null;
  try {
    open = await openDatabase(parseDbUrl(settings.db, opts.cwd), { readonly: true });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    f.fail('database', e.message, e.hint ?? null);
    if (e.exitCode !== 2) f.toolFailed = true;
  }
  if (open) {
    try {
      const q = await Quoter.of(open.db);
      await checkDatabase(open, q, f);
      await checkUsers(open.db, settings.config, q, f);
      if (settings.config.ledger) {
        for (const m of await checkMappedLedger(open.db, settings.config, settings.config.ledger, q, f)) modes.add(m);
      } else {
        f.ok(
          'ledger',
          "the tool's own ledger (credit_ledger): unique on (kind, payment_key), so a payment is credited at most once",
        );
        if ((await ownSchemaTables(open.db)).has('credit_ledger'))
          for (const m of await ledgerModes(open.db)) modes.add(m);
      }
      if (settings.config.balance) await checkBalance(open.db, settings.config, settings.config.balance, q, f);
    } finally {
      await open.close();
    }
  }
  await checkStripe(opts, modes, f);

  const failed = f.list.some((x) => x.level === 'fail');
  return { ok: !failed && !f.toolFailed, findings: f.list, exitCode: f.toolFailed ? 1 : failed ? 2 : 0 };
}

// --------------------------------------------------------------------------------------------
// database

async function checkDatabase(open: OpenDb, q: Quoter, f: Findings): Promise<void> {
  const { db } = open;
  let schema: string | null = null;
  if (open.engine.kind === 'postgres') {
    const r = await sql<{
      schema: string;
      path: string;
      user: string;
    }>`SELECT current_schema() AS schema, array_to_string(current_schemas(false), ', ') AS path, current_user AS "user"`.execute(
      db,
    );
    schema = r.rows[0]!.schema;
    f.ok(
      'database',
      `PostgreSQL ${open.location.label}: the tool's tables live in schema ${schema} (search path: ${r.rows[0]!.path})`,
    );
  } else {
    f.ok('database', `SQLite ${open.location.label}`);
  }

  const tables = await ownSchemaTables(db);
  const applied = tables.has('credit_ledger') ? await appliedMigrations(db) : null;
  const pending = applied === null ? [...MIGRATION_NAMES] : MIGRATION_NAMES.filter((n) => !applied.includes(n));
  const unknown = applied === null ? [] : applied.filter((n) => !MIGRATION_NAMES.includes(n));
  if (applied === null) {
    f.warn(
      'migrations',
      "the tool's tables are not created yet",
      'run stripe-credits migrate (the first apply run migrates too); a dry run works without them',
    );
  } else if (pending.length > 0) {
    f.warn(
      'migrations',
      `${pending.length} of ${MIGRATION_NAMES.length} migrations are not applied yet (${pending.join(', ')})`,
      'run stripe-credits migrate (the next apply run migrates too); a dry run works meanwhile',
    );
  } else if (unknown.length > 0) {
    f.warn(
      'migrations',
      `the database has migrations this version does not know (${unknown.join(', ')}): a newer stripe-credits migrated it`,
      'upgrade stripe-credits to the version that migrated it',
    );
  } else {
    f.ok(
      'migrations',
      `the tool's tables are at the latest migration (${MIGRATION_NAMES[MIGRATION_NAMES.length - 1]})`,
    );
  }
  if (pending.length > 0 && schema !== null) {
    const r = await sql<{
      create: boolean;
      user: string;
    }>`SELECT has_schema_privilege(current_schema(), 'CREATE') AS "create", current_user AS "user"`.execute(db);
    if (!r.rows[0]!.create) {
      f.fail(
        'migrations',
        `the database user ${r.rows[0]!.user} may not create tables in schema ${schema}: migrate would fail`,
        `GRANT CREATE ON SCHEMA ${q.id(schema)} TO ${q.id(r.rows[0]!.user)}`,
      );
    }
  }
}

/** Postgres: the privileges the database user lacks on a table (SQLite has none to lack). */
async function missingPrivileges(db: Kysely<Database>, t: TableInfo, privileges: readonly string[]): Promise<string[]> {
  if (engineOf(db) !== 'postgres') return [];
  const missing: string[] = [];
  for (const p of privileges) {
    const r = await sql<{
      ok: boolean;
    }>`SELECT has_table_privilege(${qualifiedName(`"${t.schema}"`, `"${t.name}"`)}, ${p}) AS ok`.execute(db);
    if (!r.rows[0]!.ok) missing.push(p);
  }
  return missing;
}

async function privilegeFinding(
  db: Kysely<Database>,
  t: TableInfo,
  privileges: readonly string[],
  check: string,
  why: string,
  q: Quoter,
  f: Findings,
): Promise<void> {
  const missing = await missingPrivileges(db, t, privileges);
  if (missing.length === 0) return;
  const user = await currentUser(db);
  f.fail(
    check,
    `the database user ${user} lacks ${missing.join(' and ')} on ${t.schema}.${t.name}: ${why}`,
    `GRANT ${missing.join(', ')} ON ${q.table(t.schema, t.name)} TO ${q.id(user)}`,
  );
}

const currentUser = async (db: Kysely<Database>) =>
  (await sql<{ u: string }>`SELECT current_user AS u`.execute(db)).rows[0]!.u;

const columnNames = (t: TableInfo) => t.columns.map((c) => c.name).join(', ');

async function missingTable(db: Kysely<Database>, label: string): Promise<string> {
  const all = (await listTables(db)).filter((n) => !/^(credit_ledger|stripe_credits_)/.test(n.replace(/^.*\./, '')));
  return `there is no table ${label} (the database has: ${all.length ? all.join(', ') : 'no tables'})`;
}

// --------------------------------------------------------------------------------------------
// users

async function checkUsers(db: Kysely<Database>, config: AppConfig, q: Quoter, f: Findings): Promise<boolean> {
  const u = config.users;
  try {
    await verifyUsersTable(db, u);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    f.fail('users', e.message, e.hint ?? null);
    return false;
  }
  const t = await describeTable(db, u.schema, u.table);
  if (!t) {
    f.fail(
      'users',
      await missingTable(db, qualifiedName(u.schema, u.table)),
      'set users.table in the config file to the table that holds your users',
    );
    return false;
  }
  const label = qualifiedName(u.schema, u.table);
  const id = columnOf(db, t, u.id)!;
  const email = columnOf(db, t, u.email)!;
  const idIndex = indexesOn(t, id.name)[0];
  const described = [
    `id "${id.name}" ${id.type || 'untyped'}${idIndex ? (idIndex.unique ? ', unique' : ', indexed') : ''}`,
    `email "${email.name}" ${email.type || 'untyped'}`,
    ...(u.name ? [`name "${u.name}"`] : []),
    ...(u.stripeCustomerId ? [`stripeCustomerId "${u.stripeCustomerId}"`] : []),
  ];
  f.ok('users', `${label}: ${described.join(', ')}`);
  await privilegeFinding(db, t, ['SELECT'], 'users', 'the tool reads users', q, f);
  if (!idIndex) {
    f.warn(
      'users.id',
      `"${id.name}" has no index: every lookup by user id reads the whole ${label} table`,
      q.createIndex(true, u.schema, t.name, `${t.name}_${id.name}_key`, q.id(id.name)),
    );
  }
  if (email.kind !== 'text' && email.kind !== 'blob') {
    f.warn(
      'users.email',
      `"${email.name}" is ${email.type}, not a text column: emails are compared as text`,
      'set users.email to the column that holds the email address',
    );
  }
  const emailIndexed = await usesIndex(db, emailLookup(db, u));
  if (emailIndexed) {
    f.ok('users.email', `matching by email uses an index on lower(trim(${email.name}))`);
  } else {
    const plain = indexesOn(t, email.name)[0];
    const msg = `matching by email reads the whole ${label} table: no index on lower(trim(${email.name}))${plain ? ` (${plain.name} on ${email.name} itself cannot serve it)` : ''}`;
    const fix = q.createIndex(
      false,
      u.schema,
      t.name,
      `${t.name}_${email.name}_lower_idx`,
      `lower(trim(${q.id(email.name)}))`,
    );
    if (config.match.byEmail) f.warn('users.email', msg, fix);
    else
      f.ok(
        'users.email',
        `matching by email is off (match.byEmail); ${msg.replace(/^matching by email /, 'lookup by email ')}`,
      );
  }
  if (u.stripeCustomerId) {
    const col = columnOf(db, t, u.stripeCustomerId)!;
    if (await usesIndex(db, customerLookup(db, u, col.name)))
      f.ok('users.stripeCustomerId', `matching by Stripe customer uses an index on ${col.name}`);
    else
      f.warn(
        'users.stripeCustomerId',
        `matching by Stripe customer reads the whole ${label} table: no index on ${col.name}`,
        q.createIndex(false, u.schema, t.name, `${t.name}_${col.name}_idx`, q.id(col.name)),
      );
  }
  return true;
}

// --------------------------------------------------------------------------------------------
// the mapped ledger

const has = (consts: Record<string, SqlConstant>, name: string, sqlite: boolean) =>
  Object.keys(consts).some((k) => k === name || (sqlite && k.toLowerCase() === name.toLowerCase()));

/** Checks the app's table the ledger is mapped onto; returns the livemode of the Checkout Session ids it holds. */
async function checkMappedLedger(
  db: Kysely<Database>,
  config: AppConfig,
  L: LedgerMapping,
  q: Quoter,
  f: Findings,
): Promise<boolean[]> {
  const label = qualifiedName(L.schema, L.table);
  const t = await describeTable(db, L.schema, L.table);
  const refWord = L.refKind === 'payment_intent' ? 'PaymentIntent' : 'Checkout Session';
  if (!t) {
    f.fail(
      'ledger',
      `the ledger is mapped onto ${label}, but ${await missingTable(db, label)}`,
      "set ledger.table to the app's table that holds its credits, and check --db",
    );
    return [];
  }
  const onUsers = (await mappingConflicts(db, config)).find((c) => c.key === 'ledger');
  if (onUsers) {
    f.fail('ledger', onUsers.message, onUsers.hint);
    return [];
  }
  f.ok(
    'ledger',
    `mapped onto ${label}: a payment counts as credited when ${L.columns.paymentRef} holds its PaymentIntent or Checkout Session id; the tool writes ${refWord} ids (refKind ${L.refKind})`,
  );
  if (t.isView)
    f.warn(
      'ledger',
      `${label} is a view: the tool's inserts work only if it is updatable`,
      "map the ledger onto the app's table itself",
    );
  await privilegeFinding(
    db,
    t,
    ['SELECT', 'INSERT'],
    'ledger',
    'the tool reads the ledger and inserts the credits it writes',
    q,
    f,
  );
  await sequenceFinding(db, t, L, q, f);

  const sqlite = engineOf(db) === 'sqlite';
  // Columns: the mapped ones, set and setManual.
  let columnProblems = 0;
  const mapped: Array<[string, string]> = [
    ['ledger.columns.userId', L.columns.userId],
    ['ledger.columns.credits', L.columns.credits],
    ['ledger.columns.paymentRef', L.columns.paymentRef],
    ...(L.columns.createdAt ? [['ledger.columns.createdAt', L.columns.createdAt] as [string, string]] : []),
  ];
  const sameManual = JSON.stringify(L.set) === JSON.stringify(L.setManual);
  const constants: Array<[string, Record<string, SqlConstant>]> = [
    ['ledger.set', L.set],
    ...(sameManual ? [] : [['ledger.setManual', L.setManual] as [string, Record<string, SqlConstant>]]),
  ];
  for (const [key, name] of mapped) {
    const c = columnOf(db, t, name);
    if (!c) {
      columnProblems++;
      f.fail(
        'ledger.columns',
        `${label} has no column "${name}" (${key}); it has: ${columnNames(t)}`,
        `set ${key} to the column of ${label} that holds it`,
      );
    } else if (c.generated) {
      columnProblems++;
      f.fail(
        'ledger.columns',
        `"${c.name}" (${key}) is a generated column: it cannot be written`,
        `set ${key} to a plain column`,
      );
    }
  }
  for (const [where, consts] of constants) {
    for (const [k, v] of Object.entries(consts)) {
      const c = columnOf(db, t, k);
      if (!c) {
        columnProblems++;
        f.fail(
          'ledger.columns',
          `${label} has no column "${k}" (${where}); it has: ${columnNames(t)}`,
          `remove "${k}" from ${where}, or name a column ${label} has`,
        );
      } else if (c.generated) {
        columnProblems++;
        f.fail(
          'ledger.columns',
          `"${c.name}" (${where}) is a generated column: it cannot be written`,
          `remove "${k}" from ${where}`,
        );
      } else if (v === null && c.notNull) {
        columnProblems++;
        f.fail(
          'ledger.columns',
          `${where}.${k} is null, but "${c.name}" is NOT NULL: the insert would fail`,
          `give ${where}.${k} a value`,
        );
      }
    }
  }
  const mappedNames = mapped.map(([, n]) => n.toLowerCase());
  for (const c of t.columns) {
    if (!c.notNull || c.hasDefault || c.auto || c.generated || mappedNames.includes(c.name.toLowerCase())) continue;
    if (!has(L.set, c.name, sqlite)) {
      columnProblems++;
      f.fail(
        'ledger.columns',
        `"${c.name}" (${c.type || 'untyped'}) is NOT NULL without a default, and neither mapped nor in ledger.set: every purchase the tool writes would fail to insert`,
        `add "${c.name}": VALUE to ledger.set${sameManual ? '' : ' (and to ledger.setManual)'}, the value the app writes for a purchase`,
      );
    } else if (!has(L.setManual, c.name, sqlite)) {
      columnProblems++;
      f.warn(
        'ledger.columns',
        `"${c.name}" is NOT NULL without a default and not in ledger.setManual: manual adjustments (adjust) would fail to insert`,
        `add "${c.name}": VALUE to ledger.setManual, the value the app writes for a manual entry`,
      );
    }
  }
  const refColumn = columnOf(db, t, L.columns.paymentRef);
  if (refColumn && refColumn.notNull && !refColumn.generated) {
    columnProblems++;
    const nullable = sqlite
      ? 'SQLite cannot drop a NOT NULL in place: rebuild the table without it'
      : `ALTER TABLE ${q.table(L.schema, t.name)} ALTER COLUMN ${q.id(refColumn.name)} DROP NOT NULL`;
    f.warn(
      'ledger.columns',
      `paymentRef "${refColumn.name}" is NOT NULL: purchases insert fine, but a manual entry (adjust, assign --reassign) has no payment reference and writes NULL there, so adjustments and reassignments would fail to insert`,
      `make "${refColumn.name}" nullable (${nullable}), or make adjustments and reassignments in the app, not with the tool`,
    );
  }
  if (columnProblems === 0) {
    const extra = [...new Set([...Object.keys(L.set), ...Object.keys(L.setManual)])];
    f.ok(
      'ledger.columns',
      `${mapped.map(([, n]) => n).join(', ')}${extra.length ? ` and ${extra.join(', ')} (set)` : ''} exist; every NOT NULL column without a default is mapped or set`,
    );
  }

  // Types.
  let typeProblems = 0;
  const pg = !sqlite;
  const credits = columnOf(db, t, L.columns.credits);
  if (credits) {
    const type = credits.type || 'untyped';
    if (credits.kind === 'integer') {
      if (pg && credits.type === 'smallint' && config.maxCreditsPerPayment > 32767) {
        typeProblems++;
        f.warn(
          'ledger.types',
          `credits "${credits.name}" is a smallint (at most 32767), and maxCreditsPerPayment is ${config.maxCreditsPerPayment}`,
          'set maxCreditsPerPayment to 32767 or less in the config file',
        );
      }
    } else if (credits.kind === 'numeric') {
      typeProblems++;
      f.warn(
        'ledger.types',
        `credits "${credits.name}" is ${type}, not an integer type: it holds whole credits, but reads back as a decimal`,
        'map ledger.columns.credits to an integer column if the app has one',
      );
    } else {
      typeProblems++;
      f.fail(
        'ledger.types',
        `credits "${credits.name}" is ${type}: credits must be an integer column`,
        'set ledger.columns.credits to the integer column that holds the credits',
      );
    }
  }
  const ref = columnOf(db, t, L.columns.paymentRef);
  if (ref && ref.kind !== 'text' && !(sqlite && ref.kind === 'blob')) {
    typeProblems++;
    if (pg)
      f.fail(
        'ledger.types',
        `paymentRef "${ref.name}" is ${ref.type}: it cannot hold ${refWord} ids (pi_…, cs_…)`,
        'set ledger.columns.paymentRef to the text column that holds the Stripe id',
      );
    else
      f.warn(
        'ledger.types',
        `paymentRef "${ref.name}" is ${ref.type || 'untyped'}, not TEXT: SQLite stores the ids as text anyway, but the app may not expect it`,
        'set ledger.columns.paymentRef to the text column that holds the Stripe id',
      );
  }
  const created = L.columns.createdAt ? columnOf(db, t, L.columns.createdAt) : undefined;
  if (created) {
    const problem = createdAtProblem(created, L.createdAtFormat, pg);
    if (problem) {
      typeProblems++;
      const fix = `set ledger.createdAtFormat to ${suggestFormat(created)}, or map ledger.columns.createdAt to another column (null leaves it to the column's default)`;
      if (problem.level === 'fail') f.fail('ledger.types', problem.message, fix);
      else f.warn('ledger.types', problem.message, fix);
    }
  }
  typeProblems += await checkConstantTypes(db, t, constants, sameManual, f);
  if (typeProblems === 0 && credits && ref) {
    const parts = [
      `credits "${credits.name}" ${credits.type || 'untyped'}`,
      `paymentRef "${ref.name}" ${ref.type || 'untyped'}`,
    ];
    if (created)
      parts.push(`createdAt "${created.name}" ${created.type || 'untyped'} (written as ${L.createdAtFormat})`);
    f.ok('ledger.types', parts.join(', '));
  }

  if (!ref) return [];
  await checkUniqueRef(db, t, L, ref, q, f);
  return checkReferences(db, t, L, ref, f);
}

/**
 * Postgres: an insert that leaves a serial column to its default (`nextval('…_seq')`) needs USAGE
 * on that sequence as well as INSERT on the table, or fails with "permission denied for sequence".
 * (An identity column's sequence needs no privilege.) Checks every such column the tool's inserts
 * leave to its default.
 */
async function sequenceFinding(
  db: Kysely<Database>,
  t: TableInfo,
  L: LedgerMapping,
  q: Quoter,
  f: Findings,
): Promise<void> {
  if (engineOf(db) !== 'postgres') return;
  const written = (name: string) =>
    [L.columns.userId, L.columns.credits, L.columns.paymentRef, L.columns.createdAt].includes(name) ||
    (Object.hasOwn(L.set, name) && Object.hasOwn(L.setManual, name));
  for (const c of t.columns) {
    if (!c.sequence || written(c.name)) continue;
    const seq = qualifiedName(`"${c.sequence.schema}"`, `"${c.sequence.name.replace(/"/g, '""')}"`);
    const r = await sql<{
      ok: boolean;
    }>`SELECT has_sequence_privilege(${seq}, 'USAGE') OR has_sequence_privilege(${seq}, 'UPDATE') AS ok`.execute(db);
    if (r.rows[0]!.ok) continue;
    const user = await currentUser(db);
    f.fail(
      'ledger',
      `the database user ${user} lacks USAGE on the sequence ${c.sequence.schema}.${c.sequence.name} that numbers "${c.name}" of ${qualifiedName(t.schema, t.name)}: every insert the tool makes would fail (permission denied for sequence ${c.sequence.name})`,
      `GRANT USAGE ON SEQUENCE ${q.table(c.sequence.schema, c.sequence.name)} TO ${q.id(user)}`,
    );
  }
}

/** Whether a Postgres error is about the statement (a value, a type), not the connection or the server. */
function statementError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    e instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code)
  );
}

/**
 * What the engine does with a `set`/`setManual` constant in its column, asked of the engine itself.
 * Postgres: the constant, bound as the insert binds it, cast to the column's declared type (a
 * read-only query): the error is the one the insert would fail with. SQLite: the constant bound as
 * the insert binds it (a boolean as 1 or 0) into a column of the same declared type (and STRICT or
 * not) in a private in-memory database: refused, or stored as which type.
 */
type Stored = { error: string } | { type: string; text: string | null } | null;

async function storeConstant(
  db: Kysely<Database>,
  probe: () => SQLite.Database,
  t: TableInfo,
  c: ColumnInfo,
  v: string | number | boolean,
): Promise<Stored> {
  if (engineOf(db) === 'postgres') {
    const len = /^(character varying|character)\((\d+)\)$/.exec(c.type);
    if (len && typeof v === 'string' && [...v.replace(/ +$/, '')].length > Number(len[2]))
      return { error: `value too long for type ${c.type}` };
    try {
      await sql`SELECT CAST(${v} AS ${sql.raw(c.type)}) AS v`.execute(db);
      return null;
    } catch (e) {
      if (statementError(e)) return { error: e.message };
      throw e;
    }
  }
  const p = probe();
  try {
    p.exec('DROP TABLE IF EXISTS probe');
    p.exec(`CREATE TABLE probe (c ${c.type})${t.strict ? ' STRICT' : ''}`);
  } catch {
    return null; // a declared type this SQLite cannot repeat: nothing to say about it
  }
  try {
    p.prepare('INSERT INTO probe (c) VALUES (?)').run(typeof v === 'boolean' ? (v ? 1 : 0) : v);
  } catch (e) {
    return { error: (e as Error).message.replace(/\bprobe\.c\b/, `${t.name}.${c.name}`) };
  }
  return p.prepare('SELECT typeof(c) AS type, CAST(c AS TEXT) AS text FROM probe').get() as {
    type: string;
    text: string | null;
  };
}

/** Each constant of `set` and `setManual` against its column's type; returns the number of problems. */
async function checkConstantTypes(
  db: Kysely<Database>,
  t: TableInfo,
  constants: Array<[string, Record<string, SqlConstant>]>,
  sameManual: boolean,
  f: Findings,
): Promise<number> {
  const pg = engineOf(db) === 'postgres';
  const memory: { db: SQLite.Database | null } = { db: null };
  const probe = () => (memory.db ??= new SQLite(':memory:'));
  let problems = 0;
  try {
    for (const [where, consts] of constants) {
      const manualOnly = where === 'ledger.setManual';
      const fails = manualOnly
        ? 'so manual entries (adjust, assign --reassign) would fail to insert'
        : sameManual
          ? 'so every insert the tool makes (purchases, adjustments) would fail'
          : 'so every purchase the tool writes would fail to insert';
      for (const [k, v] of Object.entries(consts)) {
        const c = columnOf(db, t, k);
        if (v === null || !c || c.generated) continue;
        const stored = await storeConstant(db, probe, t, c, v);
        if (!stored) continue;
        const what = `${where}.${k} is ${JSON.stringify(v)}, but "${c.name}" is ${c.type || 'untyped'}`;
        const example =
          typeof v === 'boolean' && (c.kind === 'integer' || c.kind === 'numeric') ? ` (${v ? 1 : 0} for ${v})` : '';
        const fix = `set ${where}.${k} to a value of the column's type${example}: the value the app writes there`;
        if ('error' in stored) {
          problems++;
          const msg = `${what}: ${pg ? 'Postgres' : `SQLite${t.strict ? ' (a STRICT table)' : ''}`} refuses it (${stored.error}), ${fails}`;
          if (manualOnly) f.warn('ledger.types', msg, fix);
          else f.fail('ledger.types', msg, fix);
          continue;
        }
        // SQLite stores what it is given; a value stored as another type than the app's is only a warning.
        const numeric = c.kind === 'integer' || c.kind === 'numeric' || c.kind === 'float' || c.kind === 'boolean';
        if (stored.type === 'text' && typeof v === 'string' && numeric) {
          problems++;
          f.warn('ledger.types', `${what}: SQLite stores it as text, where the app reads a number`, fix);
        } else if (stored.type === 'text' && typeof v !== 'string' && stored.text !== String(v)) {
          problems++;
          f.warn(
            'ledger.types',
            `${what}: SQLite ${typeof v === 'boolean' ? 'has no booleans and ' : ''}stores it as the text '${stored.text}'`,
            fix,
          );
        }
      }
    }
  } finally {
    memory.db?.close();
  }
  return problems;
}

function createdAtProblem(
  c: ColumnInfo,
  format: LedgerMapping['createdAtFormat'],
  pg: boolean,
): { level: 'warn' | 'fail'; message: string } | null {
  const what = `createdAt "${c.name}" is ${c.type || 'untyped'} and createdAtFormat is ${format}`;
  if (format === 'iso') {
    if (c.kind === 'text' || c.kind === 'timestamp' || c.kind === 'blob') return null;
    if (c.kind === 'date') return { level: 'warn', message: `${what}: the time of day is dropped` };
    if (pg)
      return {
        level: 'fail',
        message: `${what}: Postgres refuses an ISO-8601 text in such a column, so every insert would fail`,
      };
    return {
      level: 'warn',
      message: `${what}: SQLite stores the ISO-8601 text as it is, where the app expects a number`,
    };
  }
  if (c.kind === 'integer' || c.kind === 'numeric') {
    if (pg && format === 'unix_ms' && c.type === 'integer')
      return { level: 'fail', message: `${what}: milliseconds overflow a 32-bit integer` };
    return null;
  }
  if (c.kind === 'float' || (!pg && c.kind === 'timestamp')) return null;
  if (c.kind === 'timestamp' || c.kind === 'date')
    return {
      level: 'fail',
      message: `${what}: Postgres refuses a number in such a column, so every insert would fail`,
    };
  return { level: 'warn', message: `${what}: the number is stored as text` };
}

function suggestFormat(c: ColumnInfo): string {
  return c.kind === 'integer' || c.kind === 'numeric' || c.kind === 'float' ? '"unix" (or "unix_ms")' : '"iso"';
}

async function checkUniqueRef(
  db: Kysely<Database>,
  t: TableInfo,
  L: LedgerMapping,
  ref: ColumnInfo,
  q: Quoter,
  f: Findings,
): Promise<void> {
  const label = qualifiedName(L.schema, t.name);
  const kind = L.refKind === 'payment_intent' ? 'PaymentIntent ids (pi_…)' : 'Checkout Session ids (cs_…)';
  const race = `with refKind ${L.refKind}, the app's webhook must write ${kind} too for the index to catch a race`;
  const notNullOnly = (p: string) =>
    new RegExp(`^\\(*\\s*"?${ref.name}"?\\s+IS\\s+NOT\\s+NULL\\s*\\)*$`, 'i').test(p.trim());
  const unique =
    uniqueOn(t, ref.name) ??
    t.indexes.find(
      (i) =>
        i.unique &&
        i.columns.length === 1 &&
        i.columns[0] === ref.name &&
        i.predicate !== null &&
        notNullOnly(i.predicate),
    );
  if (unique) {
    f.ok(
      'ledger.unique',
      `${unique.name} makes "${ref.name}" unique: the app's webhook and the tool cannot both credit a payment, a second insert fails (${race})`,
    );
    return;
  }
  const partial = t.indexes.find(
    (i) => i.unique && i.columns.length === 1 && i.columns[0] === ref.name && i.predicate !== null,
  );
  const wider = t.indexes.find((i) => i.unique && i.columns.length > 1 && i.columns.includes(ref.name));
  const notes = [
    ...(partial ? [`${partial.name} is unique only WHERE ${partial.predicate}`] : []),
    ...(wider
      ? [
          `${wider.name} is unique on (${wider.columns.map((c) => c ?? 'expression').join(', ')}) together, which lets one ${ref.name} appear twice`,
        ]
      : []),
  ];
  const r = sql.ref(ref.name);
  const dupes = await sql<{
    n: number | string;
  }>`SELECT count(*) AS n FROM (SELECT ${r} FROM ${tableRef(L.schema, t.name)} WHERE ${r} IS NOT NULL GROUP BY ${r} HAVING count(*) > 1) d`.execute(
    db,
  );
  const nDupes = Number(dupes.rows[0]?.n ?? 0);
  let dupeNote = '';
  if (nDupes > 0) {
    const ex = await sql<{
      ref: string;
    }>`SELECT ${r} AS ref FROM ${tableRef(L.schema, t.name)} WHERE ${r} IS NOT NULL GROUP BY ${r} HAVING count(*) > 1 ORDER BY 1 LIMIT 3`.execute(
      db,
    );
    dupeNote = `; first resolve the ${plural(nDupes, 'reference')} that appear${nDupes === 1 ? 's' : ''} more than once (${ex.rows.map((x) => String(x.ref)).join(', ')}${nDupes > 3 ? ', …' : ''}), or the index cannot be created`;
  }
  f.warn(
    'ledger.unique',
    `no unique index on ${label} (${ref.name})${notes.length ? ` (${notes.join('; ')})` : ''}: the tool's own writers never credit a payment twice, but the app's webhook and the tool crediting the same payment at the same moment could both insert it`,
    `${q.createIndex(true, L.schema, t.name, `${t.name}_${ref.name}_key`, q.id(ref.name))}; ${race}${dupeNote}`,
  );
}

const SAMPLE = 10_000;

/** How a reference the tool cannot read looks. */
function referenceClass(v: string): string {
  if (v === '') return 'empty string';
  if (/^(ch|py)_/.test(v)) return 'charge id';
  if (/^evt_/.test(v)) return 'event id';
  if (/^in_/.test(v)) return 'invoice id';
  if (/(^|[^A-Za-z0-9])(pi_[A-Za-z0-9]+|cs_(test|live)_[A-Za-z0-9]+)/.test(v)) return 'prefixed or suffixed id';
  return 'other value';
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Counts the references the tool can read (a plain `pi_…` or `cs_test_…`/`cs_live_…` id) and
 * classifies the others, with examples. Returns the livemode of the Checkout Session ids it holds.
 */
async function checkReferences(
  db: Kysely<Database>,
  t: TableInfo,
  L: LedgerMapping,
  ref: ColumnInfo,
  f: Findings,
): Promise<boolean[]> {
  const label = qualifiedName(L.schema, t.name);
  const table = tableRef(L.schema, t.name);
  const r = asText(db, sql.ref(ref.name));
  // The same test the first-run stop makes (what reconcile can recognise as credited).
  const readable = readableRef(db, sql.ref(ref.name));
  const when = (cond: unknown) => sql`COALESCE(sum(CASE WHEN ${cond} THEN 1 ELSE 0 END), 0)`;
  const agg = await sql<{
    rows: number | string;
    refs: number | string;
    readable: number | string;
    pi: number | string;
    cs_test: number | string;
    cs_live: number | string;
  }>`
    SELECT count(*) AS rows, count(${r}) AS refs,
           ${when(readable)} AS readable,
           ${when(sql`${readable} AND substr(${r}, 1, 3) = 'pi_'`)} AS pi,
           ${when(sql`${readable} AND substr(${r}, 1, 8) = 'cs_test_'`)} AS cs_test,
           ${when(sql`${readable} AND substr(${r}, 1, 8) = 'cs_live_'`)} AS cs_live
      FROM ${table}`.execute(db);
  const a = agg.rows[0]!;
  const n = {
    rows: Number(a.rows),
    refs: Number(a.refs),
    readable: Number(a.readable),
    pi: Number(a.pi),
    csTest: Number(a.cs_test),
    csLive: Number(a.cs_live),
  };
  const cs = n.csTest + n.csLive;
  const unreadable = n.refs - n.readable;
  const modes = [...(n.csTest > 0 ? [false] : []), ...(n.csLive > 0 ? [true] : [])];
  if (n.refs === 0) {
    f.ok(
      'ledger.references',
      `${label} holds no payment references yet${n.rows ? ` (${n.rows} rows without one)` : ''}`,
    );
    return modes;
  }
  if (unreadable === 0) {
    f.ok(
      'ledger.references',
      `all ${n.refs} references are ids the tool reads (${n.pi} PaymentIntent, ${cs} Checkout Session)`,
    );
  } else {
    const sample = await sql<{ ref: string; n: number | string }>`
      SELECT ${r} AS ref, count(*) AS n FROM ${table} WHERE ${r} IS NOT NULL AND NOT ${readable} GROUP BY ${r} ORDER BY 1 LIMIT ${SAMPLE}`.execute(
      db,
    );
    const classes = new Map<string, { rows: number; examples: string[] }>();
    for (const row of sample.rows) {
      const v = String(row.ref);
      const c = classes.get(referenceClass(v)) ?? { rows: 0, examples: [] };
      c.rows += Number(row.n);
      if (c.examples.length < 3) c.examples.push(v === '' ? "''" : v);
      classes.set(referenceClass(v), c);
    }
    const parts = [...classes]
      .sort((x, y) => y[1].rows - x[1].rows)
      .map(
        ([name, c]) => `${plural(c.rows, name)} (${c.examples.join(', ')}${c.rows > c.examples.length ? ', …' : ''})`,
      );
    const sampled = sample.rows.length === SAMPLE ? ` (classified from the first ${SAMPLE} distinct values)` : '';
    f.warn(
      'ledger.references',
      `${unreadable} of ${n.refs} references in ${label}.${ref.name} ${unreadable === 1 ? 'is' : 'are'} not a PaymentIntent or Checkout Session id the tool reads: ${parts.join(', ')}${sampled}`,
      `these payments would look uncredited to the tool, which would credit them again: mark them handled with stripe-credits baseline --until WHEN (a time after the newest of them), or rewrite them to the plain pi_…/cs_… id (stripe:pi_123 → pi_123; a charge's PaymentIntent is its payment_intent)`,
    );
  }
  if (L.refKind === 'payment_intent' && n.pi === 0 && cs > 0) {
    f.warn(
      'ledger.refKind',
      `${label} holds ${cs} Checkout Session ids and no PaymentIntent id, but refKind is payment_intent: the tool would write pi_… ids where the app writes cs_… ids`,
      'set ledger.refKind to "checkout_session", so that the app and the tool write the same id for a payment (a unique index can then catch a race)',
    );
  } else if (L.refKind === 'checkout_session' && cs === 0 && n.pi > 0) {
    f.warn(
      'ledger.refKind',
      `${label} holds ${n.pi} PaymentIntent ids and no Checkout Session id, but refKind is checkout_session: the tool would write cs_… ids where the app writes pi_… ids`,
      'set ledger.refKind to "payment_intent", so that the app and the tool write the same id for a payment (a unique index can then catch a race)',
    );
  }
  return modes;
}

// --------------------------------------------------------------------------------------------
// balance

async function checkBalance(
  db: Kysely<Database>,
  config: AppConfig,
  B: BalanceConfig,
  q: Quoter,
  f: Findings,
): Promise<void> {
  const label = qualifiedName(B.schema, B.table);
  const t = await describeTable(db, B.schema, B.table);
  if (!t) {
    f.fail(
      'balance',
      `the balance is configured on ${label}, but ${await missingTable(db, label)}`,
      'set balance.table to the table that holds the balance column (default: users.table)',
    );
    return;
  }
  const onLedger = (await mappingConflicts(db, config)).find((c) => c.key === 'balance');
  if (onLedger) {
    f.fail('balance', onLedger.message, onLedger.hint);
    return;
  }
  const col = columnOf(db, t, B.column);
  const key = columnOf(db, t, B.key);
  if (!key)
    f.fail(
      'balance',
      `${label} has no column "${B.key}" (balance.key); it has: ${columnNames(t)}`,
      'set balance.key to the column that holds the user id (default: users.id)',
    );
  if (!col)
    f.fail(
      'balance',
      `${label} has no column "${B.column}" (balance.column); it has: ${columnNames(t)}`,
      'set balance.column to the column that holds the balance',
    );
  if (!col || !key) return;
  await privilegeFinding(
    db,
    t,
    ['SELECT', 'UPDATE'],
    'balance',
    'every credit the tool writes moves the balance',
    q,
    f,
  );
  let problems = 0;
  if (col.generated) {
    problems++;
    f.fail(
      'balance',
      `balance.column "${col.name}" is a generated column: it cannot be written`,
      'set balance.column to the plain column that holds the balance',
    );
  } else if (col.kind === 'numeric') {
    problems++;
    f.warn(
      'balance',
      `balance.column "${col.name}" is ${col.type}, not an integer type`,
      'point balance.column at an integer column if the app has one',
    );
  } else if (col.kind !== 'integer') {
    problems++;
    f.fail(
      'balance',
      `balance.column "${col.name}" is ${col.type || 'untyped'}: a balance must be an integer column`,
      'set balance.column to the integer column that holds the balance',
    );
  }
  if (!col.notNull) {
    const nulls = await sql<{
      n: number | string;
    }>`SELECT count(*) AS n FROM ${tableRef(B.schema, t.name)} WHERE ${sql.ref(col.name)} IS NULL`.execute(db);
    const n = Number(nulls.rows[0]?.n ?? 0);
    if (n > 0) {
      problems++;
      f.warn(
        'balance',
        `${n} rows of ${label} hold NULL in "${col.name}": NULL plus a credit is still NULL`,
        `UPDATE ${q.table(B.schema, t.name)} SET ${q.id(col.name)} = 0 WHERE ${q.id(col.name)} IS NULL`,
      );
    }
  }
  const unique = uniqueOn(t, key.name);
  if (!unique) {
    problems++;
    const plain = indexesOn(t, key.name)[0];
    f.warn(
      'balance',
      plain
        ? `balance.key "${key.name}" is indexed (${plain.name}) but not unique: a credit would move every row with that key`
        : `balance.key "${key.name}" has no index: every credit reads the whole ${label} table to find the row`,
      q.createIndex(true, B.schema, t.name, `${t.name}_${key.name}_key`, q.id(key.name)),
    );
  }
  if (!config.ledger) {
    f.warn(
      'balance.visibility',
      `the tool cannot see credits the app makes itself by moving ${label}.${col.name}: only its own record (credit_ledger) and the baseline tell it a payment is credited`,
      `from the baseline line on, the app's webhook must credit through the library (handleWebhook/fulfill) or not at all, else reconcile credits each new payment a second time; if the app also keeps a row per credit, map the ledger onto that table (ledger)`,
    );
  }
  if (problems === 0)
    f.ok(
      'balance',
      `every credit also moves ${label}.${col.name} (${col.type}) on the row where ${key.name} (unique: ${unique!.name}) is the user id`,
    );
}

// --------------------------------------------------------------------------------------------
// the Stripe key

interface Probe {
  check: string;
  permission: string;
  what: string;
  why: string;
  call: (s: Stripe) => Promise<unknown>;
}

/** One cheap request per permission the tool needs (README, "The first run on a real account"). */
const PROBES: Probe[] = [
  {
    check: 'stripe.checkout_sessions',
    permission: 'Checkout Sessions: Read',
    what: 'list Checkout Sessions',
    why: 'every run lists them',
    call: (s) => s.checkout.sessions.list({ limit: 1 }),
  },
  {
    check: 'stripe.payment_intents',
    permission: 'PaymentIntents: Read',
    what: 'list PaymentIntents',
    why: 'every run lists them',
    call: (s) => s.paymentIntents.list({ limit: 1 }),
  },
  {
    check: 'stripe.charges',
    permission: 'Charges: Read',
    what: 'read Charges',
    why: "a PaymentIntent's charge shows whether it was refunded",
    call: (s) => s.charges.list({ limit: 1 }),
  },
  {
    check: 'stripe.invoice_payments',
    permission: 'Invoices: Read',
    what: 'list InvoicePayments',
    why: 'they tell whether a PaymentIntent pays an invoice',
    call: (s) => s.invoicePayments.list({ limit: 1 }),
  },
  {
    check: 'stripe.events',
    permission: 'Events: Read',
    what: 'list Events',
    why: 'incremental runs (no --since) read what changed since the last run',
    call: (s) => s.events.list({ limit: 1 }),
  },
];

async function checkStripe(opts: DoctorOptions, modes: Set<boolean>, f: Findings): Promise<void> {
  const { env, settings } = opts;
  if (!env.STRIPE_API_KEY?.trim() && !env.STRIPE_API_KEY_FILE) {
    f.warn(
      'stripe.key',
      'no Stripe key (STRIPE_API_KEY or STRIPE_API_KEY_FILE): the key and its permissions are not checked, and reconcile needs one',
      'set STRIPE_API_KEY_FILE to a file holding a restricted key with the read permissions the README lists ("The first run on a real account"), then run doctor again',
    );
    return;
  }
  let key: string;
  try {
    key = settings.stripeApiKey();
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    f.fail('stripe.key', e.message, e.hint ?? 'set STRIPE_API_KEY or STRIPE_API_KEY_FILE to a restricted key (rk_…)');
    return;
  }
  const live = keyIsLive(key);
  const restricted = key.startsWith('rk_');
  const mode = live ? 'live' : 'test';
  const kindLine = `${maskKey(key)}: a ${restricted ? 'restricted' : 'secret'} key, ${mode} mode`;
  if (live && !restricted) {
    f.warn(
      'stripe.key',
      `${kindLine}: it can do anything on the account, and the tool only reads`,
      `a restricted read-only key is enough and safer: create one with ${PROBES.map((p) => `"${p.permission}"`).join(', ')} and nothing else`,
    );
  } else f.ok('stripe.key', kindLine);

  const stripe = createStripeClient({ apiKey: key, apiBase: settings.stripeApiBase, timeoutMs: 10_000 });
  const retry = { ...DEFAULT_RETRY, budgetMs: Math.min(settings.retryBudgetMs, 10_000) };
  for (const probe of PROBES) {
    try {
      await withRetry(probe.what, () => probe.call(stripe), retry, maskKey(key));
      f.ok(probe.check, `${probe.what}: answered (${probe.permission})`);
    } catch (e) {
      if (e instanceof StripeAuthError && (e.cause as { statusCode?: number } | undefined)?.statusCode === 401) {
        f.fail('stripe.key', e.message, e.hint ?? null);
        break;
      }
      if (e instanceof StripeAuthError) {
        const stripeName = /Having the '([^']+)' permission/.exec((e.cause as Error | undefined)?.message ?? '')?.[1];
        f.fail(
          probe.check,
          `${probe.what}: refused (HTTP 403${stripeName ? `, Stripe names ${stripeName}` : ''}): the key lacks "${probe.permission}", and ${probe.why}`,
          restricted
            ? `give the key "${probe.permission}" (Dashboard → Developers → API keys → edit ${maskKey(key)})`
            : 'use a restricted key with the read permissions the README lists ("The first run on a real account")',
        );
        continue;
      }
      if (e instanceof StripeUnavailableError) {
        f.fail(
          'stripe',
          `cannot reach Stripe at ${settings.stripeApiBase}: ${e.message}`,
          'check the network, and STRIPE_API_BASE / --stripe-api-base if set; then run doctor again',
        );
        f.toolFailed = true;
        break;
      }
      if (e instanceof CliError) {
        f.fail(probe.check, e.message, null);
        continue;
      }
      throw e;
    }
  }

  if (modes.has(!live)) {
    const other = live ? 'test' : 'live';
    f.fail(
      'stripe.mode',
      `the key is a ${mode}-mode key, but the ledger holds ${other}-mode payments: test and live never mix in one ledger (reconcile refuses with exit 2)`,
      live
        ? "point --db at the live app's database, or use a test key with this one"
        : "point --db at the test app's database, or use a live key with this one",
    );
  } else if (modes.size > 0) {
    f.ok('stripe.mode', `the ledger's payments are ${mode}-mode, like the key`);
  }
}
