import { PostgresAdapter, type CreateTableBuilder, type Kysely, type RawBuilder } from 'kysely';
import { postgresEngine } from './engines/postgres.js';
import { sqliteEngine } from './engines/sqlite.js';
import type { DbLocation, Engine, EngineKind, OpenDb } from './engines/types.js';

/**
 * Picks the engine (engines/types.ts says what an engine is): by the database URL when opening, by
 * the Kysely instance's dialect afterwards. No other code asks which engine it talks to.
 */
export type * from './engines/types.js';

/** The engine of a Kysely instance (or a transaction of it), read off its dialect: the one dispatch. */
export function engineFor<DB>(db: Kysely<DB>): Engine {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresEngine : sqliteEngine;
}

const ENGINES: Record<EngineKind, Engine> = { sqlite: sqliteEngine, postgres: postgresEngine };

/** Every engine, for what arrives without its database (an error reaching the CLI's handler). */
export const ALL_ENGINES: readonly Engine[] = [sqliteEngine, postgresEngine];

/** Opens a database with the engine its location (parsed from the URL) names. */
export function openWithEngine(location: DbLocation, opts: { readonly: boolean }): Promise<OpenDb> {
  return ENGINES[location.kind].open(location, opts);
}

/** Adds an auto-numbered `id` primary key (see Engine.withAutoId). */
export function withAutoId<DB, T extends string>(
  db: Kysely<DB>,
  table: CreateTableBuilder<T, never>,
): CreateTableBuilder<T, 'id'> {
  return engineFor(db).withAutoId(table);
}

/** A column of the app's table as text (see Engine.asText). */
export function asText<DB>(db: Kysely<DB>, column: RawBuilder<unknown>): RawBuilder<unknown> {
  return engineFor(db).asText(column);
}

/** A user id as read (see Engine.idAsRead). */
export function idAsRead<DB>(db: Kysely<DB>, column: RawBuilder<unknown>): RawBuilder<unknown> {
  return engineFor(db).idAsRead(column);
}

/** Names of the tables in the tool's own schema (see Engine.ownSchemaTables). */
export function ownSchemaTables<DB>(db: Kysely<DB>): Promise<Set<string>> {
  return engineFor(db).ownSchemaTables(db);
}

/** A write transaction (see Engine.writeTransaction). */
export function writeTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return engineFor(db).writeTransaction(db, fn);
}
