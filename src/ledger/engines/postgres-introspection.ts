import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import {
  Quoter,
  qualifiedName,
  type ColumnInfo,
  type ConstantProbe,
  type IndexInfo,
  type Introspection,
  type Lack,
  type Stored,
  type TableInfo,
  type TypeKind,
} from '../introspect/model.js';

/**
 * Postgres' answers, from the catalogs (`pg_class`, `pg_attribute`, `pg_index`), with an
 * unqualified name found the way a query finds it, through the search path. Names are stored as
 * written, and the database user may lack privileges the tool needs.
 */

/**
 * An unquoted name is folded to lower case (`CreditTransaction` would name `credittransaction`), so
 * every name that is not plain lower case, or is a keyword, is quoted, as `quote_ident` does.
 */
class PostgresQuoter extends Quoter {
  constructor(keywords: ReadonlySet<string>) {
    super(keywords);
  }

  protected plain(name: string): boolean {
    return /^[a-z_][a-z0-9_]*$/.test(name);
  }

  /** The schema goes on the table: an index is always created in its table's schema. */
  protected indexOn(schema: string | null, table: string, index: string): string {
    return `${this.id(index)} ON ${this.table(schema, table)}`;
  }

  makeNullable(schema: string | null, table: string, column: string): string {
    return `ALTER TABLE ${this.table(schema, table)} ALTER COLUMN ${this.id(column)} DROP NOT NULL`;
  }
}

function kindOf(typname: string, category: string): TypeKind {
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

/** The table, view or foreign table of that name: in `schema`, or else the first on the search path. */
async function findRelation(
  db: Kysely<Database>,
  schema: string | null,
  table: string,
): Promise<{ oid: string; schema: string; kind: string } | null> {
  const rel = await sql<{ oid: string; schema: string; kind: string }>`
    SELECT c.oid::text AS oid, n.nspname AS schema, c.relkind::text AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = ${table} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND ${schema === null ? sql`n.nspname = ANY(current_schemas(false))` : sql`n.nspname = ${schema}`}
     ORDER BY array_position(current_schemas(false), n.nspname) NULLS LAST
     LIMIT 1`.execute(db);
  return rel.rows[0] ?? null;
}

/** The columns, with the base type of a domain and the sequence a serial column's default draws from. */
async function columnsOf(db: Kysely<Database>, oid: string): Promise<ColumnInfo[]> {
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
     WHERE a.attrelid = CAST(${oid} AS oid) AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`.execute(db);
  return cols.rows.map((c) => ({
    name: c.name,
    type: c.type,
    kind: kindOf(c.typname, c.category),
    notNull: c.not_null,
    hasDefault: c.has_default,
    auto: c.identity !== '' || /^nextval\(/.test(c.default_expr ?? ''),
    generated: c.generated !== '',
    sequence: c.seq_schema !== null && c.seq_name !== null ? { schema: c.seq_schema, name: c.seq_name } : null,
  }));
}

/** The valid indexes, with their key columns in order (INCLUDE columns left out). */
async function indexesOf(db: Kysely<Database>, oid: string): Promise<IndexInfo[]> {
  const ix = await sql<IndexInfo>`
    SELECT i.relname AS name, x.indisunique AS "unique", x.indisprimary AS "primary",
           pg_get_expr(x.indpred, x.indrelid) AS predicate,
           ARRAY(SELECT a.attname::text
                   FROM unnest(CAST(x.indkey AS int2[])) WITH ORDINALITY AS k(attnum, ord)
                   LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                  WHERE k.ord <= x.indnkeyatts
                  ORDER BY k.ord) AS columns
      FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     WHERE x.indrelid = CAST(${oid} AS oid) AND x.indisvalid
     ORDER BY i.relname`.execute(db);
  return ix.rows;
}

const currentUser = async (db: Kysely<Database>) =>
  (await sql<{ u: string }>`SELECT current_user AS u`.execute(db)).rows[0]!.u;

/** Whether a Postgres error is about the statement (a value, a type), not the connection or the server. */
function statementError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    e instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code)
  );
}

/**
 * The constant, bound as the insert binds it, cast to the column's declared type (a read-only
 * query): the error is the one the insert would fail with.
 */
class PostgresConstantProbe implements ConstantProbe {
  constructor(private readonly db: Kysely<Database>) {}

  async store(c: ColumnInfo, v: string | number | boolean): Promise<Stored> {
    // A cast to character(n) pads or truncates silently where an insert refuses a longer value.
    const len = /^(character varying|character)\((\d+)\)$/.exec(c.type);
    if (len && typeof v === 'string' && [...v.replace(/ +$/, '')].length > Number(len[2]))
      return { error: `value too long for type ${c.type}` };
    try {
      await sql`SELECT CAST(${v} AS ${sql.raw(c.type)}) AS v`.execute(this.db);
      return null;
    } catch (e) {
      if (statementError(e)) return { error: e.message };
      throw e;
    }
  }

  close(): void {}
}

export const postgresIntrospection: Introspection = {
  name: 'Postgres',
  typesEnforced: true,

  sameName: (a, b) => a === b,

  async describeDatabase(db, label) {
    const r = await sql<{
      schema: string;
      path: string;
    }>`SELECT current_schema() AS schema, array_to_string(current_schemas(false), ', ') AS path`.execute(db);
    return `PostgreSQL ${label}: the tool's tables live in schema ${r.rows[0]!.schema} (search path: ${r.rows[0]!.path})`;
  },

  async listTables(db) {
    const r = await sql<{ s: string; n: string; first: boolean }>`
      SELECT n.nspname AS s, c.relname AS n, n.nspname = current_schema() AS first
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       ORDER BY 3 DESC, 1, 2`.execute(db);
    return r.rows.map((x) => (x.first ? x.n : `${x.s}.${x.n}`));
  },

  async describeTable(db, schema, table) {
    const found = await findRelation(db, schema, table);
    if (!found) return null;
    return {
      schema: found.schema,
      name: table,
      isView: found.kind === 'v' || found.kind === 'm',
      strict: false,
      columns: await columnsOf(db, found.oid),
      indexes: await indexesOf(db, found.oid),
    };
  },

  /**
   * Planned with sequential scans disabled: on a small table (a test, a new app) the planner
   * rightly prefers a scan even where an index would serve.
   */
  async usesIndex(db, query) {
    return db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${query}`.execute(trx);
      return plan.rows.some((r) => /\bIndex (Only )?Scan\b|Bitmap Index Scan/.test(r['QUERY PLAN']));
    });
  },

  async quoter(db) {
    const r = await sql<{
      word: string;
    }>`SELECT word FROM pg_catalog.pg_get_keywords() WHERE catcode <> 'U'`.execute(db);
    return new PostgresQuoter(new Set(r.rows.map((x) => x.word.toUpperCase())));
  },

  async lacksCreate(db) {
    const r = await sql<{
      create: boolean;
      user: string;
      schema: string;
    }>`SELECT has_schema_privilege(current_schema(), 'CREATE') AS "create", current_user AS "user", current_schema() AS schema`.execute(
      db,
    );
    const row = r.rows[0]!;
    return row.create ? null : { user: row.user, privileges: ['CREATE'], schema: row.schema };
  },

  async lacksOnTable(db, t: TableInfo, privileges) {
    const missing: string[] = [];
    for (const p of privileges) {
      const r = await sql<{
        ok: boolean;
      }>`SELECT has_table_privilege(${qualifiedName(`"${t.schema}"`, `"${t.name}"`)}, ${p}) AS ok`.execute(db);
      if (!r.rows[0]!.ok) missing.push(p);
    }
    return missing.length === 0 ? null : ({ user: await currentUser(db), privileges: missing } satisfies Lack);
  },

  async lacksOnSequence(db, sequence) {
    const seq = qualifiedName(`"${sequence.schema}"`, `"${sequence.name.replace(/"/g, '""')}"`);
    const r = await sql<{
      ok: boolean;
    }>`SELECT has_sequence_privilege(${seq}, 'USAGE') OR has_sequence_privilege(${seq}, 'UPDATE') AS ok`.execute(db);
    return r.rows[0]!.ok ? null : { user: await currentUser(db), privileges: ['USAGE'] };
  },

  constantProbe: (db) => new PostgresConstantProbe(db),
};
