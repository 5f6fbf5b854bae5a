import type { Kysely } from 'kysely';
import { engineOf } from './engine.js';
import { postgresIntrospection } from './introspect/postgres.js';
import { sqliteIntrospection } from './introspect/sqlite.js';
import type { ColumnInfo, Introspection, TableInfo } from './introspect/model.js';
import type { Database } from './schema.js';

/**
 * Read-only introspection of the app's tables on both engines, for `doctor` and for checking a
 * config against the database: columns with their types, nullability and defaults, indexes with
 * their columns, uniqueness and predicate, and the privileges the database user lacks. The
 * interface and the engine-neutral helpers are in introspect/model.ts, each engine's answers in
 * introspect/sqlite.ts and introspect/postgres.ts.
 */

export * from './introspect/model.js';

/** The one place that picks an engine's introspection. */
export function introspectionFor(db: Kysely<Database>): Introspection {
  return engineOf(db) === 'postgres' ? postgresIntrospection : sqliteIntrospection;
}

/** A column by name: exactly where the engine stores names as written, else case-insensitively. */
export function columnOf(db: Kysely<Database>, t: TableInfo, name: string): ColumnInfo | undefined {
  const { sameName } = introspectionFor(db);
  return t.columns.find((c) => c.name === name) ?? t.columns.find((c) => sameName(c.name, name));
}

/** See Introspection.describeTable. */
export function describeTable(db: Kysely<Database>, schema: string | null, table: string): Promise<TableInfo | null> {
  return introspectionFor(db).describeTable(db, schema, table);
}
