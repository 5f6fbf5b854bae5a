import type { SqlConstant } from '../../config.js';
import { columnOf } from '../../ledger/introspect.js';
import { columnNames, type Checkup } from './findings.js';
import type { Mapped } from './mapped.js';

/**
 * The mapped columns and the `set`/`setManual` constants against the table's columns: each exists
 * and can be written, and every NOT NULL column without a default gets a value from the tool.
 */
export function checkLedgerColumns(c: Checkup, m: Mapped): void {
  let problems = mappedColumnProblems(c, m);
  problems += constantColumnProblems(c, m);
  problems += unsetColumnProblems(c, m);
  problems += nullableRefProblems(c, m);
  if (problems > 0) return;
  const { L } = m;
  const extra = [...new Set([...Object.keys(L.set), ...Object.keys(L.setManual)])];
  c.f.ok(
    'ledger.columns',
    `${m.mapped.map(([, n]) => n).join(', ')}${extra.length ? ` and ${extra.join(', ')} (set)` : ''} exist; every NOT NULL column without a default is mapped or set`,
  );
}

function mappedColumnProblems(c: Checkup, { t, label, mapped }: Mapped): number {
  let problems = 0;
  for (const [key, name] of mapped) {
    const col = columnOf(c.db, t, name);
    if (!col) {
      problems++;
      c.f.fail(
        'ledger.columns',
        `${label} has no column "${name}" (${key}); it has: ${columnNames(t)}`,
        `set ${key} to the column of ${label} that holds it`,
      );
    } else if (col.generated) {
      problems++;
      c.f.fail(
        'ledger.columns',
        `"${col.name}" (${key}) is a generated column: it cannot be written`,
        `set ${key} to a plain column`,
      );
    }
  }
  return problems;
}

function constantColumnProblems(c: Checkup, { t, label, constants }: Mapped): number {
  let problems = 0;
  for (const [where, consts] of constants) {
    for (const [k, v] of Object.entries(consts)) {
      const col = columnOf(c.db, t, k);
      if (!col) {
        problems++;
        c.f.fail(
          'ledger.columns',
          `${label} has no column "${k}" (${where}); it has: ${columnNames(t)}`,
          `remove "${k}" from ${where}, or name a column ${label} has`,
        );
      } else if (col.generated) {
        problems++;
        c.f.fail(
          'ledger.columns',
          `"${col.name}" (${where}) is a generated column: it cannot be written`,
          `remove "${k}" from ${where}`,
        );
      } else if (v === null && col.notNull) {
        problems++;
        c.f.fail(
          'ledger.columns',
          `${where}.${k} is null, but "${col.name}" is NOT NULL: the insert would fail`,
          `give ${where}.${k} a value`,
        );
      }
    }
  }
  return problems;
}

/** A NOT NULL column without a default that the tool's inserts leave out would make them fail. */
function unsetColumnProblems(c: Checkup, { L, t, mapped, sameManual }: Mapped): number {
  const has = (consts: Record<string, SqlConstant>, name: string) =>
    Object.keys(consts).some((k) => k === name || c.ix.sameName(k, name));
  const mappedNames = mapped.map(([, n]) => n.toLowerCase());
  let problems = 0;
  for (const col of t.columns) {
    if (!col.notNull || col.hasDefault || col.auto || col.generated || mappedNames.includes(col.name.toLowerCase()))
      continue;
    if (!has(L.set, col.name)) {
      problems++;
      c.f.fail(
        'ledger.columns',
        `"${col.name}" (${col.type || 'untyped'}) is NOT NULL without a default, and neither mapped nor in ledger.set: every purchase the tool writes would fail to insert`,
        `add "${col.name}": VALUE to ledger.set${sameManual ? '' : ' (and to ledger.setManual)'}, the value the app writes for a purchase`,
      );
    } else if (!has(L.setManual, col.name)) {
      problems++;
      c.f.warn(
        'ledger.columns',
        `"${col.name}" is NOT NULL without a default and not in ledger.setManual: manual adjustments (adjust) would fail to insert`,
        `add "${col.name}": VALUE to ledger.setManual, the value the app writes for a manual entry`,
      );
    }
  }
  return problems;
}

/** A manual entry has no payment reference, so it writes NULL into paymentRef. */
function nullableRefProblems(c: Checkup, { L, t }: Mapped): number {
  const ref = columnOf(c.db, t, L.columns.paymentRef);
  if (!ref || !ref.notNull || ref.generated) return 0;
  c.f.warn(
    'ledger.columns',
    `paymentRef "${ref.name}" is NOT NULL: purchases insert fine, but a manual entry (adjust, assign --reassign) has no payment reference and writes NULL there, so adjustments and reassignments would fail to insert`,
    `make "${ref.name}" nullable (${c.q.makeNullable(L.schema, t.name, ref.name)}), or make adjustments and reassignments in the app, not with the tool`,
  );
  return 1;
}
