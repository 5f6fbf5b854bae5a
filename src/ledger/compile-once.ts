import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import { statementParts } from './chunks.js';
import { engineOf } from './engine.js';

/**
 * SQL texts of the hot queries, by shape (see compiledOnce). A run, or a long-lived process (the
 * library in an app), meets many shapes used once (the record's row count varies from batch to
 * batch, the last batch is short): the most recently used are kept, so those do not push out the
 * shapes of every batch.
 */
const texts = new Map<string, string>();
const TEXTS = 64;

/**
 * Runs a query that Kysely makes (`compile`), compiling it once per shape and afterwards binding
 * each call's parameters to the same SQL text. Kysely makes, freezes and compiles an operation node
 * per value, which for the lists of a large sweep (1,000 ledger rows of 15 values an insert, 3,000
 * ids a lookup) cost a tenth of deciding and writing.
 *
 * `shape` must name everything other than the parameters' values that the SQL text depends on:
 * the statement, its configured table and column names, the length of each list, the number of
 * rows (the engine is added here). `params` are the values the query binds, in the order Kysely
 * binds them: that is checked when a shape is first compiled, and a shape that does not pass is not
 * kept (the query is then compiled each time, as without this: so are the lookups of a Postgres
 * integer or uuid users id, which bind their list as one array).
 */
export async function compiledOnce<R>(
  db: Kysely<any>,
  shape: string,
  params: readonly unknown[],
  compile: () => CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const key = `${engineOf(db)}|${shape}`;
  let text = texts.get(key);
  if (text !== undefined) {
    // Most recently used last: the first entry is the one to drop.
    texts.delete(key);
    texts.set(key, text);
  } else {
    const compiled = compile();
    const same = compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]);
    if (!same) return db.executeQuery(compiled);
    text = compiled.sql;
    texts.set(key, text);
    if (texts.size > TEXTS) texts.delete(texts.keys().next().value!);
  }
  return db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]));
}

/**
 * Runs a multi-row INSERT that `compile` makes with Kysely from `rows`, through compiledOnce (shape:
 * `name`, the number of rows and their columns). Kysely binds the values row by row in column
 * order, then those of the rest of the statement (none here). Rows whose columns differ from the
 * first row's (each writer makes its rows with one function, so they do not) are built as usual.
 * The rows go in statementParts (on SQLite a thousand, or powers of two, so that the statements
 * prepared are few); the result is theirs together (rows, and rows affected).
 */
export async function insertRows<R>(
  db: Kysely<any>,
  name: string,
  rows: readonly object[],
  compile: (rows: readonly object[]) => CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const parts = statementParts(db, rows, INSERT_ROWS);
  if (parts.length <= 1) return insertPart(db, name, rows, compile);
  const out: R[] = [];
  let affected = 0n;
  for (const part of parts) {
    const r = await insertPart(db, name, part, compile);
    out.push(...r.rows);
    affected += r.numAffectedRows ?? 0n;
  }
  return { rows: out, numAffectedRows: affected };
}

/** The most rows one INSERT takes (SQLite allows 32766 bound parameters: 17 columns × 1000 fit). */
const INSERT_ROWS = 1000;

async function insertPart<R>(
  db: Kysely<any>,
  name: string,
  rows: readonly object[],
  compile: (rows: readonly object[]) => CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const columns = Object.keys(rows[0]!);
  const params: unknown[] = [];
  for (const row of rows) {
    // The same columns in the same order, each with a value (Kysely leaves an undefined one out).
    // Object.keys and Object.values, not a lookup of each column by name: about three times faster.
    const names = Object.keys(row);
    if (names.length !== columns.length) return db.executeQuery(compile(rows));
    for (let k = 0; k < names.length; k++) if (names[k] !== columns[k]) return db.executeQuery(compile(rows));
    for (const v of Object.values(row)) {
      if (v === undefined) return db.executeQuery(compile(rows));
      params.push(v);
    }
  }
  return compiledOnce(db, `insert|${name}|${rows.length}|${columns.join(',')}`, params, () => compile(rows));
}
