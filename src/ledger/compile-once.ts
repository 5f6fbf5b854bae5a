import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import { engineFor } from './engine.js';
import type { Database } from './schema.js';

/**
 * Hot queries compiled once per shape. Kysely makes, freezes and compiles an operation node per
 * value, which for the lists of a large sweep (a thousand ledger rows an insert, thousands of ids a
 * lookup) is a real share of deciding and writing. A statement defined here compiles a shape once
 * and afterwards binds each call's parameters to the same SQL text.
 *
 * A shape is found from the statement's arguments, so that no caller has to name it: a list
 * counts by its length (its values are parameters), an object with a `shapeKey` by that key,
 * anything else by its value; and the engine counts (the two compile differently). A statement is
 * defined once, at module level, so that its query can depend on nothing but those arguments.
 */

/** An argument that says itself what of it the SQL text depends on (a table's configured names). */
export interface Shaped {
  readonly shapeKey: string;
}

function isShaped(v: unknown): v is Shaped {
  return typeof v === 'object' && v !== null && typeof (v as { shapeKey?: unknown }).shapeKey === 'string';
}

function shapeOf(args: readonly unknown[]): string {
  return args.map((a) => (Array.isArray(a) ? `[${a.length}]` : isShaped(a) ? a.shapeKey : JSON.stringify(a))).join('|');
}

/**
 * SQL texts by shape. A run, or a long-lived process (the library in an app), meets many shapes used
 * once (the row count varies from batch to batch, the last batch is short): the most recently used
 * are kept, so those do not push out the shapes of every batch.
 */
class ShapeTexts {
  private readonly texts = new Map<string, string>();

  constructor(private readonly size = 64) {}

  /**
   * Runs the query of `shape`, compiling it (`compile`) only when its text is not known yet.
   * `params` are the values the query binds, in the order Kysely binds them: that is checked when a
   * shape is first compiled, and a shape that does not pass is not kept (the query is then compiled
   * each time: so are the lookups of a Postgres integer or uuid users id, which bind their list as
   * one array).
   */
  async run<R>(
    db: Kysely<Database>,
    shape: string,
    params: readonly unknown[],
    compile: () => CompiledQuery<R>,
  ): Promise<QueryResult<R>> {
    const key = `${engineFor(db).kind}|${shape}`;
    let text = this.texts.get(key);
    if (text !== undefined) {
      // Most recently used last: the first entry is the one to drop.
      this.texts.delete(key);
      this.texts.set(key, text);
    } else {
      const compiled = compile();
      const same = compiled.parameters.length === params.length && compiled.parameters.every((v, i) => v === params[i]);
      if (!same) return db.executeQuery(compiled);
      text = compiled.sql;
      this.texts.set(key, text);
      if (this.texts.size > this.size) this.texts.delete(this.texts.keys().next().value!);
    }
    return db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]));
  }
}

/** A query compiled once per shape of its arguments (see above). */
export class Statement<A extends unknown[], R> {
  private readonly texts = new ShapeTexts();

  /**
   * `build` makes the query with Kysely from `db` and the arguments; `params` lists the values it
   * binds, in Kysely's order.
   */
  constructor(
    private readonly build: (db: Kysely<Database>, ...args: A) => CompiledQuery<R>,
    private readonly params: (...args: A) => readonly unknown[],
  ) {}

  run(db: Kysely<Database>, ...args: A): Promise<QueryResult<R>> {
    return this.texts.run(db, shapeOf(args), this.params(...args), () => this.build(db, ...args));
  }
}

/** The most rows one INSERT takes (SQLite allows 32766 bound parameters: 17 columns × 1000 fit). */
const INSERT_ROWS = 1000;

/**
 * A multi-row INSERT compiled once per shape: the number of rows and their columns. Kysely binds
 * the values row by row in column order, then those of the rest of the statement (none here). Rows
 * whose columns differ from the first row's (each writer makes its rows with one function, so they
 * do not) are built as usual. The rows go in the engine's statement parts (Engine.statementParts);
 * the result is theirs together (rows, and rows affected).
 */
export class RowsInsert<Row extends object, R = unknown> {
  private readonly texts = new ShapeTexts();

  constructor(private readonly build: (db: Kysely<Database>, rows: readonly Row[]) => CompiledQuery<R>) {}

  async run(db: Kysely<Database>, rows: readonly Row[]): Promise<QueryResult<R>> {
    const parts = engineFor(db).statementParts(rows, INSERT_ROWS);
    if (parts.length <= 1) return this.part(db, rows);
    const out: R[] = [];
    let affected = 0n;
    for (const part of parts) {
      const r = await this.part(db, part);
      out.push(...r.rows);
      affected += r.numAffectedRows ?? 0n;
    }
    return { rows: out, numAffectedRows: affected };
  }

  private part(db: Kysely<Database>, rows: readonly Row[]): Promise<QueryResult<R>> {
    const columns = Object.keys(rows[0]!);
    const params: unknown[] = [];
    for (const row of rows) {
      // The same columns in the same order, each with a value (Kysely leaves an undefined one out).
      // Object.keys and Object.values: a lookup of each column by name costs more.
      const names = Object.keys(row);
      if (names.length !== columns.length) return db.executeQuery(this.build(db, rows));
      for (let k = 0; k < names.length; k++) if (names[k] !== columns[k]) return db.executeQuery(this.build(db, rows));
      for (const v of Object.values(row)) {
        if (v === undefined) return db.executeQuery(this.build(db, rows));
        params.push(v);
      }
    }
    return this.texts.run(db, `${rows.length}|${columns.join(',')}`, params, () => this.build(db, rows));
  }
}

/**
 * A one-row INSERT for an engine that inserts row by row (KeyedInsert.one): compiled once for its
 * engine and columns, after which a row's parameters are its values in column order, as Kysely
 * binds them. A row whose columns differ from the last one's, or with a value left undefined (which
 * Kysely leaves out), is compiled anew.
 */
export class RowInsert<Row extends object> {
  private columns: string[] = [];
  private kind = '';
  private text: string | null = null;

  constructor(private readonly build: (db: Kysely<Database>, row: Row) => CompiledQuery) {}

  one(db: Kysely<Database>, row: Row): { sql: string; parameters: readonly unknown[] } {
    const kind = engineFor(db).kind;
    const names = Object.keys(row);
    const values = Object.values(row);
    let same = this.text !== null && kind === this.kind && names.length === this.columns.length;
    for (let k = 0; same && k < names.length; k++) same = names[k] === this.columns[k] && values[k] !== undefined;
    if (same) return { sql: this.text!, parameters: values };
    const compiled = this.build(db, row);
    if (compiled.parameters.length === values.length && compiled.parameters.every((v, i) => v === values[i])) {
      this.columns = names;
      this.kind = kind;
      this.text = compiled.sql;
    }
    return compiled;
  }
}
