import type { AppConfig, BalanceConfig } from '../../config.js';
import { mappingConflicts } from '../../ledger/app-ledger.js';
import { nullCount } from '../../ledger/introspect/contents.js';
import {
  columnOf,
  indexesOn,
  qualifiedName,
  uniqueOn,
  type ColumnInfo,
  type TableInfo,
} from '../../ledger/introspect.js';
import { columnNames, missingTable, privilegeFinding, type Checkup } from './findings.js';

/** The balance column as found: the table, the column moved, and the key that finds the user's row. */
interface Balance {
  B: BalanceConfig;
  t: TableInfo;
  label: string;
  col: ColumnInfo;
  key: ColumnInfo;
}

/** The balance column every credit also moves: it exists, can be written, and its row is found by a unique key. */
export async function checkBalance(c: Checkup, config: AppConfig, B: BalanceConfig): Promise<void> {
  const b = await balanceColumn(c, config, B);
  if (!b) return;
  const why = 'every credit the tool writes moves the balance';
  await privilegeFinding(c, b.t, ['SELECT', 'UPDATE'], 'balance', why);
  let problems = typeProblems(c, b);
  problems += await nullProblems(c, b);
  problems += keyProblems(c, b);
  if (!config.ledger) {
    c.f.warn(
      'balance.visibility',
      `the tool cannot see credits the app makes itself by moving ${b.label}.${b.col.name}: only its own record (credit_ledger) and the baseline tell it a payment is credited`,
      `from the baseline line on, the app's webhook must credit through the library (handleWebhook/fulfill) or not at all, else reconcile credits each new payment a second time; if the app also keeps a row per credit, map the ledger onto that table (ledger)`,
    );
  }
  if (problems === 0)
    c.f.ok(
      'balance',
      `every credit also moves ${b.label}.${b.col.name} (${b.col.type}) on the row where ${b.key.name} (unique: ${uniqueOn(b.t, b.key.name)!.name}) is the user id`,
    );
}

/** The balance's table and columns, or null (failed findings) when one is missing or the table is the ledger's. */
async function balanceColumn(c: Checkup, config: AppConfig, B: BalanceConfig): Promise<Balance | null> {
  const label = qualifiedName(B.schema, B.table);
  const t = await c.ix.describeTable(c.db, B.schema, B.table);
  if (!t) {
    c.f.fail(
      'balance',
      `the balance is configured on ${label}, but ${await missingTable(c, label)}`,
      'set balance.table to the table that holds the balance column (default: users.table)',
    );
    return null;
  }
  const onLedger = (await mappingConflicts(c.db, config)).find((x) => x.key === 'balance');
  if (onLedger) {
    c.f.fail('balance', onLedger.message, onLedger.hint);
    return null;
  }
  const col = columnOf(c.db, t, B.column);
  const key = columnOf(c.db, t, B.key);
  if (!key)
    c.f.fail(
      'balance',
      `${label} has no column "${B.key}" (balance.key); it has: ${columnNames(t)}`,
      'set balance.key to the column that holds the user id (default: users.id)',
    );
  if (!col)
    c.f.fail(
      'balance',
      `${label} has no column "${B.column}" (balance.column); it has: ${columnNames(t)}`,
      'set balance.column to the column that holds the balance',
    );
  return col && key ? { B, t, label, col, key } : null;
}

/** A balance is an integer the tool adds to: a generated or non-integer column cannot be one. */
function typeProblems(c: Checkup, { col }: Balance): number {
  if (col.generated) {
    c.f.fail(
      'balance',
      `balance.column "${col.name}" is a generated column: it cannot be written`,
      'set balance.column to the plain column that holds the balance',
    );
  } else if (col.kind === 'numeric') {
    c.f.warn(
      'balance',
      `balance.column "${col.name}" is ${col.type}, not an integer type`,
      'point balance.column at an integer column if the app has one',
    );
  } else if (col.kind !== 'integer') {
    c.f.fail(
      'balance',
      `balance.column "${col.name}" is ${col.type || 'untyped'}: a balance must be an integer column`,
      'set balance.column to the integer column that holds the balance',
    );
  } else return 0;
  return 1;
}

/** NULL plus a credit is still NULL: rows holding NULL would never be credited. */
async function nullProblems(c: Checkup, { B, t, label, col }: Balance): Promise<number> {
  if (col.notNull) return 0;
  const n = await nullCount(c.db, { schema: B.schema, table: t.name, column: col.name });
  if (n === 0) return 0;
  c.f.warn(
    'balance',
    `${n} rows of ${label} hold NULL in "${col.name}": NULL plus a credit is still NULL`,
    `UPDATE ${c.q.table(B.schema, t.name)} SET ${c.q.id(col.name)} = 0 WHERE ${c.q.id(col.name)} IS NULL`,
  );
  return 1;
}

/** The key must find exactly one row, and without reading the whole table. */
function keyProblems(c: Checkup, { B, t, label, key }: Balance): number {
  if (uniqueOn(t, key.name)) return 0;
  const plain = indexesOn(t, key.name)[0];
  c.f.warn(
    'balance',
    plain
      ? `balance.key "${key.name}" is indexed (${plain.name}) but not unique: a credit would move every row with that key`
      : `balance.key "${key.name}" has no index: every credit reads the whole ${label} table to find the row`,
    c.q.createIndex(true, B.schema, t.name, `${t.name}_${key.name}_key`, c.q.id(key.name)),
  );
  return 1;
}
