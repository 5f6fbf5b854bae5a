import type { Kysely } from 'kysely';
import { engineFor } from './engine.js';
import type { ColumnInfo, Introspection, TableInfo } from './introspect/model.js';
import type { Database } from './schema.js';

/**
 * Read-only introspection of the app's tables on both engines, for `doctor` and for checking a
 * config against the database: columns with their types, nullability and defaults, indexes with
 * their columns, uniqueness and predicate, and the privileges the database user lacks. The
 * interface and the engine-neutral helpers are in introspect/model.ts, each engine's answers in
 * engines/sqlite-introspection.ts and engines/postgres-introspection.ts.
 */

export * from './introspect/model.js';

/** The introspection of the engine a Kysely instance talks to. */
export function introspectionFor(db: Kysely<Database>): Introspection {
  return engineFor(db).introspection;
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
