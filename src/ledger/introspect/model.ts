import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';

/**
 * What `doctor` learns about the app's tables, and the interface each engine answers it through.
 * The engine-neutral helpers live here too; everything that differs between SQLite and Postgres is
 * in engines/sqlite-introspection.ts and engines/postgres-introspection.ts.
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

/** Privileges the database user lacks (only Postgres has any to lack). */
export interface Lack {
  user: string;
  privileges: string[];
}

/**
 * What the engine does with a `set`/`setManual` constant in its column: refuses it (the error the
 * insert would fail with), stores it as some type (SQLite, which keeps what it is given), or null
 * when it takes it as the column's type.
 */
export type Stored = { error: string } | { type: string; text: string | null } | null;

/** Tries constants against the columns of one table; `close` frees what the tries needed. */
export interface ConstantProbe {
  store(c: ColumnInfo, v: string | number | boolean): Promise<Stored>;
  close(): void;
}

/** Read-only questions `doctor` asks a database, answered by each engine its own way. */
export interface Introspection {
  /** The engine as messages name it. */
  readonly name: 'SQLite' | 'Postgres';
  /**
   * Whether the engine refuses a value of another type than its column's (Postgres), rather than
   * storing it as given (SQLite; its STRICT tables are tried through `constantProbe`).
   */
  readonly typesEnforced: boolean;
  /** Whether two names name the same column: exactly (Postgres stores names as written) or case-insensitively (SQLite). */
  sameName(a: string, b: string): boolean;
  /** One line saying which database this is and, where it has schemas, where the tool's tables live. */
  describeDatabase(db: Kysely<Database>, label: string): Promise<string>;
  /** The app's tables (and views), as `schema.table` outside the default schema, for messages. */
  listTables(db: Kysely<Database>): Promise<string[]>;
  /**
   * Describes a table, or returns null when there is none of that name (on Postgres without a
   * schema: none on the search path, as an unqualified query would see it).
   */
  describeTable(db: Kysely<Database>, schema: string | null, table: string): Promise<TableInfo | null>;
  /** Whether the engine answers `query` through an index rather than by reading the whole table. */
  usesIndex(db: Kysely<Database>, query: RawBuilder<unknown>): Promise<boolean>;
  /** Quotes names in the SQL doctor suggests, with the engine's keywords. */
  quoter(db: Kysely<Database>): Promise<Quoter>;
  /** The schema the tool's tables are created in, when the user may not create tables there; else null. */
  lacksCreate(db: Kysely<Database>): Promise<(Lack & { schema: string }) | null>;
  /** Which of `privileges` the user lacks on the table; null when none. */
  lacksOnTable(db: Kysely<Database>, t: TableInfo, privileges: readonly string[]): Promise<Lack | null>;
  /** Whether the user lacks the USAGE an insert needs on a serial column's sequence; null when it has it. */
  lacksOnSequence(db: Kysely<Database>, seq: { schema: string; name: string }): Promise<Lack | null>;
  constantProbe(db: Kysely<Database>, t: TableInfo): ConstantProbe;
}

/**
 * Writes the names in the SQL doctor suggests, quoted where the engine needs it (a keyword, or a
 * name the engine would not read back as written), and the statements whose form differs.
 */
export abstract class Quoter {
  protected constructor(private readonly keywords: ReadonlySet<string>) {}

  /** A name the engine reads as written without quotes. */
  protected abstract plain(name: string): boolean;

  /** The `index ON table` of a CREATE INDEX: the engines name the schema in different places. */
  protected abstract indexOn(schema: string | null, table: string, index: string): string;

  /** How to make a NOT NULL column nullable: the statement, or what to do where there is none. */
  abstract makeNullable(schema: string | null, table: string, column: string): string;

  id(name: string): string {
    return this.plain(name) && !this.keywords.has(name.toUpperCase()) ? name : `"${name.replace(/"/g, '""')}"`;
  }

  table(schema: string | null, table: string): string {
    return schema ? `${this.id(schema)}.${this.id(table)}` : this.id(table);
  }

  createIndex(unique: boolean, schema: string | null, table: string, index: string, keys: string): string {
    return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${this.indexOn(schema, table, index)} (${keys})`;
  }
}

export function qualifiedName(schema: string | null, table: string): string {
  return schema ? `${schema}.${table}` : table;
}

/** A table reference for queries. */
export function tableRef(schema: string | null, table: string): RawBuilder<unknown> {
  return schema ? sql.id(schema, table) : sql.id(table);
}

/** The indexes whose first key column is `column`, best first (unique, then plain). */
export function indexesOn(t: TableInfo, column: string): IndexInfo[] {
  return t.indexes.filter((i) => i.columns[0] === column).sort((a, b) => Number(b.unique) - Number(a.unique));
}

/** A unique index on exactly this one column (not partial), if any. */
export function uniqueOn(t: TableInfo, column: string): IndexInfo | undefined {
  return t.indexes.find((i) => i.unique && i.predicate === null && i.columns.length === 1 && i.columns[0] === column);
}
