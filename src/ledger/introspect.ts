import { sql, type Kysely, type RawBuilder } from 'kysely';
import { engineOf } from './engine.js';

/**
 * Read-only introspection of the app's tables on both engines, for `doctor`: columns with their
 * types, nullability and defaults, and indexes with their columns, uniqueness and predicate.
 * SQLite: `pragma_table_xinfo`, `pragma_index_list`, `pragma_index_info`. Postgres: the catalogs
 * (`pg_class`, `pg_attribute`, `pg_index`), with an unqualified name found the way a query finds it,
 * through the search path.
 */

/** A broad class of a column's type, enough to judge what can be written into it. */
export type TypeKind =
  'integer' | 'numeric' | 'float' | 'text' | 'timestamp' | 'date' | 'boolean' | 'uuid' | 'json' | 'blob' | 'other';

export interface ColumnInfo {
  name: string;
  /** As declared (SQLite; '' when none) or as Postgres formats it (`character varying(64)`). */
  type: string;
  kind: TypeKind;
  notNull: boolean;
  hasDefault: boolean;
  /** The database fills it in: SQLite's INTEGER PRIMARY KEY (the rowid), an identity or serial column. */
  auto: boolean;
  /** A generated (computed) column: it cannot be written. */
  generated: boolean;
  /**
   * Postgres: the sequence a `nextval(…)` default draws from (a serial column), which an insert that
   * leaves the column to its default needs USAGE on. null otherwise (an identity column needs no
   * privilege on its sequence).
   */
  sequence: { schema: string; name: string } | null;
}

export interface IndexInfo {
  name: string;
  unique: boolean;
  primary: boolean;
  /** Key columns in order; null for an expression. */
  columns: Array<string | null>;
  /** The WHERE of a partial index, else null. */
  predicate: string | null;
}

export interface TableInfo {
  /** Postgres: the schema the table was found in; SQLite: null. */
  schema: string | null;
  name: string;
  isView: boolean;
  /** SQLite: a STRICT table (a value of the wrong type is refused, not stored as it is). */
  strict: boolean;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
}

export function qualifiedName(schema: string | null, table: string): string {
  return schema ? `${schema}.${table}` : table;
}

/** A column by name: exactly on Postgres (names are stored as written), case-insensitively on SQLite. */
export function columnOf(db: Kysely<any>, t: TableInfo, name: string): ColumnInfo | undefined {
  const exact = t.columns.find((c) => c.name === name);
  if (exact || engineOf(db) === 'postgres') return exact;
  return t.columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
}

/** A table reference for queries. */
export function tableRef(schema: string | null, table: string): RawBuilder<unknown> {
  return schema ? sql.id(schema, table) : sql.id(table);
}

/** SQLite's type affinity rules (https://sqlite.org/datatype3.html, 3.1), with date-like names told apart. */
function sqliteKind(declared: string): TypeKind {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  if (t === '' || t.includes('BLOB')) return 'blob';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'float';
  if (t.includes('DATE') || t.includes('TIME')) return 'timestamp';
  if (t.includes('BOOL')) return 'boolean';
  return 'numeric';
}

function pgKind(typname: string, category: string): TypeKind {
  switch (typname) {
    case 'int2':
    case 'int4':
    case 'int8':
      return 'integer';
    case 'numeric':
      return 'numeric';
    case 'float4':
    case 'float8':
      return 'float';
    case 'timestamp':
    case 'timestamptz':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'bool':
      return 'boolean';
    case 'uuid':
      return 'uuid';
    case 'json':
    case 'jsonb':
      return 'json';
    case 'bytea':
      return 'blob';
    default:
      return category === 'S' ? 'text' : 'other';
  }
}

/** The app's tables (and views), as `schema.table` outside the default schema, for messages. */
export async function listTables(db: Kysely<any>): Promise<string[]> {
  if (engineOf(db) === 'postgres') {
    const r = await sql<{ s: string; n: string; first: boolean }>`
      SELECT n.nspname AS s, c.relname AS n, n.nspname = current_schema() AS first
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       ORDER BY 3 DESC, 1, 2`.execute(db);
    return r.rows.map((x) => (x.first ? x.n : `${x.s}.${x.n}`));
  }
  const r = await sql<{
    name: string;
  }>`SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`.execute(
    db,
  );
  return r.rows.map((x) => x.name);
}

/**
 * Describes a table, or returns null when there is none of that name (on Postgres without a
 * schema: none on the search path, as an unqualified query would see it).
 */
export async function describeTable(db: Kysely<any>, schema: string | null, table: string): Promise<TableInfo | null> {
  return engineOf(db) === 'postgres' ? describePg(db, schema, table) : describeSqlite(db, schema, table);
}

async function describeSqlite(db: Kysely<any>, schema: string | null, table: string): Promise<TableInfo | null> {
  const s = schema ?? 'main';
  // A schema SQLite does not have (only main and temp, on a connection that attaches nothing) holds no table.
  if (
    (await sql<{ name: string }>`SELECT name FROM pragma_database_list WHERE name = ${s} COLLATE NOCASE`.execute(db))
      .rows.length === 0
  )
    return null;
  const master = await sql<{
    type: string;
    name: string;
  }>`SELECT type, name FROM ${sql.id(s, 'sqlite_master')} WHERE type IN ('table', 'view') AND name = ${table} COLLATE NOCASE`.execute(
    db,
  );
  const found = master.rows[0];
  if (!found) return null;
  const cols = await sql<{
    name: string;
    type: string;
    notnull: number;
    dflt_value: string | null;
    pk: number;
    hidden: number;
  }>`
    SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(${found.name}, ${s}) ORDER BY cid`.execute(
    db,
  );
  const pkCols = cols.rows.filter((c) => c.pk > 0);
  const rowidAlias = pkCols.length === 1 && pkCols[0]!.type.toUpperCase() === 'INTEGER' ? pkCols[0]!.name : null;
  const columns: ColumnInfo[] = cols.rows
    .filter((c) => c.hidden !== 1)
    .map((c) => ({
      name: c.name,
      type: c.type,
      kind: sqliteKind(c.type),
      notNull: c.notnull === 1 || c.name === rowidAlias,
      hasDefault: c.dflt_value !== null,
      auto: c.name === rowidAlias,
      generated: c.hidden === 2 || c.hidden === 3,
      sequence: null,
    }));
  const indexes: IndexInfo[] = [];
  if (rowidAlias)
    indexes.push({ name: '(rowid primary key)', unique: true, primary: true, columns: [rowidAlias], predicate: null });
  const list = await sql<{ name: string; unique: number; origin: string; partial: number }>`
    SELECT name, "unique", origin, partial FROM pragma_index_list(${found.name}, ${s})`.execute(db);
  for (const ix of list.rows) {
    const info = await sql<{
      seqno: number;
      cid: number;
      name: string | null;
    }>`SELECT seqno, cid, name FROM pragma_index_info(${ix.name}, ${s}) ORDER BY seqno`.execute(db);
    let predicate: string | null = null;
    if (ix.partial === 1) {
      const def = await sql<{
        sql: string | null;
      }>`SELECT sql FROM ${sql.id(s, 'sqlite_master')} WHERE type = 'index' AND name = ${ix.name}`.execute(db);
      predicate = /\bWHERE\b([\s\S]*)$/i.exec(def.rows[0]?.sql ?? '')?.[1]?.trim() ?? '(partial)';
    }
    indexes.push({
      name: ix.name,
      unique: ix.unique === 1,
      primary: ix.origin === 'pk',
      columns: info.rows.map((r) => (r.cid < 0 ? null : r.name)),
      predicate,
    });
  }
  const strict =
    found.type === 'table' &&
    (
      await sql<{
        strict: number;
      }>`SELECT strict FROM pragma_table_list WHERE schema = ${s} AND name = ${found.name}`.execute(db)
    ).rows[0]?.strict === 1;
  return { schema, name: found.name, isView: found.type === 'view', strict, columns, indexes };
}

async function describePg(db: Kysely<any>, schema: string | null, table: string): Promise<TableInfo | null> {
  const rel = await sql<{ oid: string; schema: string; kind: string }>`
    SELECT c.oid::text AS oid, n.nspname AS schema, c.relkind::text AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = ${table} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND ${schema === null ? sql`n.nspname = ANY(current_schemas(false))` : sql`n.nspname = ${schema}`}
     ORDER BY array_position(current_schemas(false), n.nspname) NULLS LAST
     LIMIT 1`.execute(db);
  const found = rel.rows[0];
  if (!found) return null;
  const oid = sql`CAST(${found.oid} AS oid)`;
  const cols = await sql<{
    name: string;
    type: string;
    typname: string;
    category: string;
    not_null: boolean;
    has_default: boolean;
    identity: string;
    generated: string;
    default_expr: string | null;
    seq_schema: string | null;
    seq_name: string | null;
  }>`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           COALESCE(bt.typname, t.typname)::text AS typname, COALESCE(bt.typcategory, t.typcategory)::text AS category,
           a.attnotnull AS not_null, a.atthasdef AS has_default, a.attidentity::text AS identity, a.attgenerated::text AS generated,
           pg_get_expr(d.adbin, d.adrelid) AS default_expr, sn.nspname AS seq_schema, sc.relname AS seq_name
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      -- the sequence a default such as nextval('t_id_seq'::regclass) depends on
      LEFT JOIN LATERAL (
        SELECT dep.refobjid FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
         WHERE dep.classid = CAST('pg_catalog.pg_attrdef' AS regclass) AND dep.objid = d.oid AND dep.refclassid = CAST('pg_catalog.pg_class' AS regclass)
         LIMIT 1) seq ON true
      LEFT JOIN pg_catalog.pg_class sc ON sc.oid = seq.refobjid
      LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace
     WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`.execute(db);
  const columns: ColumnInfo[] = cols.rows.map((c) => ({
    name: c.name,
    type: c.type,
    kind: pgKind(c.typname, c.category),
    notNull: c.not_null,
    hasDefault: c.has_default,
    auto: c.identity !== '' || /^nextval\(/.test(c.default_expr ?? ''),
    generated: c.generated !== '',
    sequence: c.seq_schema !== null && c.seq_name !== null ? { schema: c.seq_schema, name: c.seq_name } : null,
  }));
  const ix = await sql<{
    name: string;
    unique: boolean;
    primary: boolean;
    predicate: string | null;
    columns: Array<string | null>;
  }>`
    SELECT i.relname AS name, x.indisunique AS "unique", x.indisprimary AS "primary",
           pg_get_expr(x.indpred, x.indrelid) AS predicate,
           ARRAY(SELECT a.attname::text
                   FROM unnest(CAST(x.indkey AS int2[])) WITH ORDINALITY AS k(attnum, ord)
                   LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= x.indnkeyatts
                  ORDER BY k.ord) AS columns
      FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = ${oid} AND x.indisvalid
     ORDER BY i.relname`.execute(db);
  return {
    schema: found.schema,
    name: table,
    isView: found.kind === 'v' || found.kind === 'm',
    strict: false,
    columns,
    indexes: ix.rows,
  };
}

/** The indexes whose first key column is `column`, best first (unique, then plain). */
export function indexesOn(t: TableInfo, column: string): IndexInfo[] {
  return t.indexes.filter((i) => i.columns[0] === column).sort((a, b) => Number(b.unique) - Number(a.unique));
}

/** A unique index on exactly this one column (not partial), if any. */
export function uniqueOn(t: TableInfo, column: string): IndexInfo | undefined {
  return t.indexes.find((i) => i.unique && i.predicate === null && i.columns.length === 1 && i.columns[0] === column);
}

/**
 * Whether the engine answers `query` through an index rather than by reading the whole table,
 * as it would plan it today. Postgres: planned with sequential scans disabled, since on a small
 * table (a test, a new app) the planner rightly prefers a scan even where an index would serve.
 */
export async function usesIndex(db: Kysely<any>, query: RawBuilder<unknown>): Promise<boolean> {
  if (engineOf(db) === 'postgres') {
    return db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${query}`.execute(trx);
      return plan.rows.some((r) => /\bIndex (Only )?Scan\b|Bitmap Index Scan/.test(r['QUERY PLAN']));
    });
  }
  const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${query}`.execute(db);
  return plan.rows.some((r) => /^SEARCH\b/.test(r.detail));
}
