import type { Kysely } from 'kysely';
import type { Introspection, Quoter, TableInfo } from '../../ledger/introspect.js';
import type { Database } from '../../ledger/schema.js';

export type Level = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  level: Level;
  message: string;
  /** What to do about it; null when the finding is ok. */
  fix: string | null;
}

/** What doctor has found so far, in the order the checks ran: the order they are printed in. */
export class Findings {
  readonly list: Finding[] = [];
  /** A check could not be made for a reason that is not the configuration's (an unreachable server). */
  toolFailed = false;
  ok(check: string, message: string): void {
    this.list.push({ check, level: 'ok', message, fix: null });
  }
  warn(check: string, message: string, fix: string): void {
    this.list.push({ check, level: 'warn', message, fix });
  }
  fail(check: string, message: string, fix: string | null): void {
    this.list.push({ check, level: 'fail', message, fix });
  }
}

/** What every database check works with: the database, its engine's answers, and how to write SQL for it. */
export interface Checkup {
  db: Kysely<Database>;
  ix: Introspection;
  q: Quoter;
  f: Findings;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const columnNames = (t: TableInfo) => t.columns.map((c) => c.name).join(', ');

/** Says a table is missing, naming the app's tables there are (not the tool's own). */
export async function missingTable(c: Checkup, label: string): Promise<string> {
  const all = (await c.ix.listTables(c.db)).filter(
    (n) => !/^(credit_ledger|stripe_credits_)/.test(n.replace(/^.*\./, '')),
  );
  return `there is no table ${label} (the database has: ${all.length ? all.join(', ') : 'no tables'})`;
}

/** Fails `check` when the database user lacks any of `privileges` on the table, with the GRANT that fixes it. */
export async function privilegeFinding(
  c: Checkup,
  t: TableInfo,
  privileges: readonly string[],
  check: string,
  why: string,
): Promise<void> {
  const lack = await c.ix.lacksOnTable(c.db, t, privileges);
  if (!lack) return;
  const missing = lack.privileges;
  c.f.fail(
    check,
    `the database user ${lack.user} lacks ${missing.join(' and ')} on ${t.schema}.${t.name}: ${why}`,
    `GRANT ${missing.join(', ')} ON ${c.q.table(t.schema, t.name)} TO ${c.q.id(lack.user)}`,
  );
}
