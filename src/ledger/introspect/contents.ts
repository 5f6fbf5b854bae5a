import { sql, type Kysely } from 'kysely';
import { readableRef, reversalRef } from '../app-ledger.js';
import { asText } from '../engine.js';
import type { Database } from '../schema.js';
import { tableRef } from './model.js';

/**
 * What `doctor` counts in the app's tables: read-only queries written once for both engines (the
 * differences are in `asText` and `readableRef`).
 */

/** A column of a table, as doctor names the place it counts in. */
export interface ColumnRef {
  schema: string | null;
  table: string;
  column: string;
}

const count = (v: number | string | undefined) => Number(v ?? 0);

/** How many values appear more than once in the column, with up to three of them. */
export async function duplicateValues(
  db: Kysely<Database>,
  at: ColumnRef,
): Promise<{ count: number; examples: string[] }> {
  const r = sql.ref(at.column);
  const table = tableRef(at.schema, at.table);
  const dupes = await sql<{
    n: number | string;
  }>`SELECT count(*) AS n FROM (SELECT ${r} FROM ${table} WHERE ${r} IS NOT NULL GROUP BY ${r} HAVING count(*) > 1) d`.execute(
    db,
  );
  const n = count(dupes.rows[0]?.n);
  if (n === 0) return { count: 0, examples: [] };
  const ex = await sql<{
    ref: string;
  }>`SELECT ${r} AS ref FROM ${table} WHERE ${r} IS NOT NULL GROUP BY ${r} HAVING count(*) > 1 ORDER BY 1 LIMIT 3`.execute(
    db,
  );
  return { count: n, examples: ex.rows.map((x) => String(x.ref)) };
}

/** How the payment references of a ledger table divide. */
export interface ReferenceCounts {
  rows: number;
  /** Rows with a reference (not NULL). */
  refs: number;
  /** References the tool reads: a plain PaymentIntent or Checkout Session id. */
  readable: number;
  /** Refund and dispute ids (reversals): not payments, and no cause for concern (see reversalRef). */
  reversals: number;
  pi: number;
  csTest: number;
  csLive: number;
}

/** Counts the references, with the same test the first-run stop makes (what reconcile can recognise as credited). */
export async function referenceCounts(db: Kysely<Database>, at: ColumnRef): Promise<ReferenceCounts> {
  const r = asText(db, sql.ref(at.column));
  const readable = readableRef(db, sql.ref(at.column));
  const when = (cond: unknown) => sql`COALESCE(sum(CASE WHEN ${cond} THEN 1 ELSE 0 END), 0)`;
  const agg = await sql<
    Record<'rows' | 'refs' | 'readable' | 'reversals' | 'pi' | 'cs_test' | 'cs_live', number | string>
  >`
    SELECT count(*) AS rows, count(${r}) AS refs,
           ${when(readable)} AS readable,
           ${when(reversalRef(db, sql.ref(at.column)))} AS reversals,
           ${when(sql`${readable} AND substr(${r}, 1, 3) = 'pi_'`)} AS pi,
           ${when(sql`${readable} AND substr(${r}, 1, 8) = 'cs_test_'`)} AS cs_test,
           ${when(sql`${readable} AND substr(${r}, 1, 8) = 'cs_live_'`)} AS cs_live
      FROM ${tableRef(at.schema, at.table)}`.execute(db);
  const a = agg.rows[0]!;
  return {
    rows: count(a.rows),
    refs: count(a.refs),
    readable: count(a.readable),
    reversals: count(a.reversals),
    pi: count(a.pi),
    csTest: count(a.cs_test),
    csLive: count(a.cs_live),
  };
}

/** The first `limit` distinct references the tool cannot read, each with how many rows hold it. */
export async function unreadableReferences(
  db: Kysely<Database>,
  at: ColumnRef,
  limit: number,
): Promise<Array<{ ref: string; rows: number }>> {
  const r = asText(db, sql.ref(at.column));
  const readable = readableRef(db, sql.ref(at.column));
  const sample = await sql<{ ref: string; n: number | string }>`
    SELECT ${r} AS ref, count(*) AS n FROM ${tableRef(at.schema, at.table)} WHERE ${r} IS NOT NULL AND NOT ${readable} AND NOT ${reversalRef(db, sql.ref(at.column))} GROUP BY ${r} ORDER BY 1 LIMIT ${limit}`.execute(
    db,
  );
  return sample.rows.map((x) => ({ ref: String(x.ref), rows: count(x.n) }));
}

/** How many rows hold NULL in the column. */
export async function nullCount(db: Kysely<Database>, at: ColumnRef): Promise<number> {
  const nulls = await sql<{
    n: number | string;
  }>`SELECT count(*) AS n FROM ${tableRef(at.schema, at.table)} WHERE ${sql.ref(at.column)} IS NULL`.execute(db);
  return count(nulls.rows[0]?.n);
}
