import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type KyselyPlugin,
} from 'kysely';
import { describe, expect, it } from 'vitest';
import { engineFor, type Engine } from '../../src/ledger/engine.js';
import type { Database } from '../../src/ledger/schema.js';

/**
 * The Engine seam: engineFor picks the implementation off a Kysely instance's dialect (also through
 * a plugin), and the two implementations differ where the engines do. Compiled, never run: a
 * Kysely instance on a dummy driver makes each engine's SQL text.
 */
function compileOnly(engine: 'sqlite' | 'postgres'): Kysely<Database> {
  const pg = engine === 'postgres';
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => (pg ? new PostgresAdapter() : new SqliteAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => (pg ? new PostgresIntrospector(db) : new SqliteIntrospector(db)),
      createQueryCompiler: () => (pg ? new PostgresQueryCompiler() : new SqliteQueryCompiler()),
    },
  });
}

const sqlite = compileOnly('sqlite');
const postgres = compileOnly('postgres');
const compiled = (db: Kysely<Database>, f: (e: Engine) => unknown) => sql`SELECT ${f(engineFor(db))}`.compile(db);

describe('engineFor', () => {
  it('reads the engine off the dialect, through plugins too', () => {
    expect(engineFor(sqlite).kind).toBe('sqlite');
    expect(engineFor(postgres).kind).toBe('postgres');
    const plugin: KyselyPlugin = {
      transformQuery: (a) => a.node,
      transformResult: async (a) => a.result,
    };
    expect(engineFor(postgres.withPlugin(plugin)).kind).toBe('postgres');
  });
});

describe('what differs between the engines', () => {
  it('statement parts: powers of two on SQLite (few prepared statements), as few as can be on Postgres', () => {
    const items = Array.from({ length: 909 }, (_, i) => i);
    expect(
      engineFor(sqlite)
        .statementParts(items, 1000)
        .map((p) => p.length),
    ).toEqual([512, 256, 128, 8, 4, 1]);
    expect(
      engineFor(postgres)
        .statementParts(items, 1000)
        .map((p) => p.length),
    ).toEqual([909]);
  });

  it('a config constant: SQLite binds no booleans', () => {
    expect(compiled(sqlite, (e) => e.constant(true)).parameters).toEqual([1]);
    expect(compiled(postgres, (e) => e.constant(true)).parameters).toEqual([true]);
  });

  it('users ids: Postgres compares an integer or uuid id in its own type, keeping only values it can hold', () => {
    const ids = ['2', '042', 'x', '9223372036854775808'];
    const col = sql.ref('id');
    expect(compiled(sqlite, (e) => e.idIn(col, ids, 'INTEGER')).parameters).toEqual(ids);
    const int = compiled(postgres, (e) => e.idIn(col, ids, 'int8'));
    expect(int.sql).toContain('= ANY(CAST($1 AS bigint[]))');
    expect(int.parameters).toEqual([['2']]);
    expect(engineFor(postgres).idIn(col, ['x'], 'uuid')).toBeNull();
    const text = compiled(postgres, (e) => e.idIn(col, ids, 'text'));
    expect(text.sql).toContain('CAST("id" AS TEXT) IN');
    expect(text.parameters).toEqual(ids);
  });

  it('an id read out: as text on SQLite (an INTEGER beyond 2^53 would round), as it is on Postgres', () => {
    expect(compiled(sqlite, (e) => e.idAsRead(sql.ref('id'))).sql).toBe('SELECT CAST("id" AS TEXT)');
    expect(compiled(postgres, (e) => e.idAsRead(sql.ref('id'))).sql).toBe('SELECT "id"');
  });

  it('names: case-insensitive on SQLite, as written on Postgres', () => {
    expect(engineFor(sqlite).sameName('Users', 'users')).toBe(true);
    expect(engineFor(postgres).sameName('Users', 'users')).toBe(false);
  });
});
