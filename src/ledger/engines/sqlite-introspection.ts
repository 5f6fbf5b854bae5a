import SQLite from 'better-sqlite3';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';
import {
  Quoter,
  type ColumnInfo,
  type ConstantProbe,
  type IndexInfo,
  type Introspection,
  type Stored,
  type TableInfo,
  type TypeKind,
} from '../introspect/model.js';

/**
 * SQLite's answers, from `sqlite_master` and the pragmas (`pragma_table_xinfo`, `pragma_index_list`,
 * `pragma_index_info`). Names are case-insensitive, there are no schemas beyond the attached
 * databases, and no privileges to lack.
 */

/** SQLite's keywords (https://sqlite.org/lang_keywords.html): a name that is one is quoted. */
const KEYWORDS = new Set(
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

/** Names are case-insensitive: only other characters or a keyword need quotes. */
class SqliteQuoter extends Quoter {
  constructor() {
    super(KEYWORDS);
  }

  protected plain(name: string): boolean {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  }

  /** The schema goes on the index (`main.idx ON t`): the table is always in the index's schema. */
  protected indexOn(schema: string | null, table: string, index: string): string {
    return `${this.table(schema, index)} ON ${this.id(table)}`;
  }

  makeNullable(): string {
    return 'SQLite cannot drop a NOT NULL in place: rebuild the table without it';
  }
}

/** SQLite's type affinity rules (https://sqlite.org/datatype3.html, 3.1), with date-like names told apart. */
function kindOf(declared: string): TypeKind {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  if (t === '' || t.includes('BLOB')) return 'blob';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'float';
  if (t.includes('DATE') || t.includes('TIME')) return 'timestamp';
  if (t.includes('BOOL')) return 'boolean';
  return 'numeric';
}

/** The table or view of that name (case-insensitively) in schema `s`, as SQLite spells it. */
async function findTable(
  db: Kysely<Database>,
  s: string,
  table: string,
): Promise<{ type: string; name: string } | null> {
  // A schema SQLite does not have (only main and temp, on a connection that attaches nothing) holds no table.
  const schemas = await sql<{
    name: string;
  }>`SELECT name FROM pragma_database_list WHERE name = ${s} COLLATE NOCASE`.execute(db);
  if (schemas.rows.length === 0) return null;
  const master = await sql<{
    type: string;
    name: string;
  }>`SELECT type, name FROM ${sql.id(s, 'sqlite_master')} WHERE type IN ('table', 'view') AND name = ${table} COLLATE NOCASE`.execute(
    db,
  );
  return master.rows[0] ?? null;
}

/** The columns, and the one that is an alias of the rowid (an INTEGER PRIMARY KEY), if any. */
async function columnsOf(
  db: Kysely<Database>,
  s: string,
  table: string,
): Promise<{ columns: ColumnInfo[]; rowidAlias: string | null }> {
  const cols = await sql<{
    name: string;
    type: string;
    notnull: number;
    dflt_value: string | null;
    pk: number;
    hidden: number;
  }>`
    SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(${table}, ${s}) ORDER BY cid`.execute(
    db,
  );
  const pkCols = cols.rows.filter((c) => c.pk > 0);
  const rowidAlias = pkCols.length === 1 && pkCols[0]!.type.toUpperCase() === 'INTEGER' ? pkCols[0]!.name : null;
  const columns: ColumnInfo[] = cols.rows
    .filter((c) => c.hidden !== 1)
    .map((c) => ({
      name: c.name,
      type: c.type,
      kind: kindOf(c.type),
      notNull: c.notnull === 1 || c.name === rowidAlias,
      hasDefault: c.dflt_value !== null,
      auto: c.name === rowidAlias,
      generated: c.hidden === 2 || c.hidden === 3,
      sequence: null,
    }));
  return { columns, rowidAlias };
}

/** The table's indexes; the rowid alias counts as a unique primary index, as it serves as one. */
async function indexesOf(
  db: Kysely<Database>,
  s: string,
  table: string,
  rowidAlias: string | null,
): Promise<IndexInfo[]> {
  const indexes: IndexInfo[] = [];
  if (rowidAlias)
    indexes.push({ name: '(rowid primary key)', unique: true, primary: true, columns: [rowidAlias], predicate: null });
  const list = await sql<{ name: string; unique: number; origin: string; partial: number }>`
    SELECT name, "unique", origin, partial FROM pragma_index_list(${table}, ${s})`.execute(db);
  for (const ix of list.rows) {
    const info = await sql<{
      seqno: number;
      cid: number;
      name: string | null;
    }>`SELECT seqno, cid, name FROM pragma_index_info(${ix.name}, ${s}) ORDER BY seqno`.execute(db);
    indexes.push({
      name: ix.name,
      unique: ix.unique === 1,
      primary: ix.origin === 'pk',
      columns: info.rows.map((r) => (r.cid < 0 ? null : r.name)),
      predicate: ix.partial === 1 ? await predicateOf(db, s, ix.name) : null,
    });
  }
  return indexes;
}

/** A partial index's WHERE, read back from its CREATE INDEX (no pragma gives it). */
async function predicateOf(db: Kysely<Database>, s: string, index: string): Promise<string> {
  const def = await sql<{
    sql: string | null;
  }>`SELECT sql FROM ${sql.id(s, 'sqlite_master')} WHERE type = 'index' AND name = ${index}`.execute(db);
  return /\bWHERE\b([\s\S]*)$/i.exec(def.rows[0]?.sql ?? '')?.[1]?.trim() ?? '(partial)';
}

async function isStrict(db: Kysely<Database>, s: string, table: string): Promise<boolean> {
  const r = await sql<{
    strict: number;
  }>`SELECT strict FROM pragma_table_list WHERE schema = ${s} AND name = ${table}`.execute(db);
  return r.rows[0]?.strict === 1;
}

/**
 * Binds a constant as the insert binds it (a boolean as 1 or 0) into a column of the same declared
 * type (and STRICT or not) in a private in-memory database: refused, or stored as which type.
 */
class SqliteConstantProbe implements ConstantProbe {
  private memory: SQLite.Database | null = null;

  constructor(private readonly t: TableInfo) {}

  async store(c: ColumnInfo, v: string | number | boolean): Promise<Stored> {
    const p = (this.memory ??= new SQLite(':memory:'));
    try {
      p.exec('DROP TABLE IF EXISTS probe');
      p.exec(`CREATE TABLE probe (c ${c.type})${this.t.strict ? ' STRICT' : ''}`);
    } catch {
      return null; // a declared type this SQLite cannot repeat: nothing to say about it
    }
    try {
      p.prepare('INSERT INTO probe (c) VALUES (?)').run(typeof v === 'boolean' ? (v ? 1 : 0) : v);
    } catch (e) {
      return { error: (e as Error).message.replace(/\bprobe\.c\b/, `${this.t.name}.${c.name}`) };
    }
    return p.prepare('SELECT typeof(c) AS type, CAST(c AS TEXT) AS text FROM probe').get() as {
      type: string;
      text: string | null;
    };
  }

  close(): void {
    this.memory?.close();
  }
}

export const sqliteIntrospection: Introspection = {
  name: 'SQLite',
  typesEnforced: false,

  sameName: (a, b) => a.toLowerCase() === b.toLowerCase(),

  describeDatabase: async (_db, label) => `SQLite ${label}`,

  async listTables(db) {
    const r = await sql<{
      name: string;
    }>`SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`.execute(
      db,
    );
    return r.rows.map((x) => x.name);
  },

  async describeTable(db, schema, table) {
    const s = schema ?? 'main';
    const found = await findTable(db, s, table);
    if (!found) return null;
    const { columns, rowidAlias } = await columnsOf(db, s, found.name);
    const indexes = await indexesOf(db, s, found.name, rowidAlias);
    const strict = found.type === 'table' && (await isStrict(db, s, found.name));
    return { schema, name: found.name, isView: found.type === 'view', strict, columns, indexes };
  },

  async usesIndex(db, query: RawBuilder<unknown>) {
    const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${query}`.execute(db);
    return plan.rows.some((r) => /^SEARCH\b/.test(r.detail));
  },

  quoter: async () => new SqliteQuoter(),
  lacksCreate: async () => null,
  lacksOnTable: async () => null,
  lacksOnSequence: async () => null,
  constantProbe: (_db, t) => new SqliteConstantProbe(t),
};
