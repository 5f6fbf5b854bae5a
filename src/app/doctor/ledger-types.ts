import type { LedgerMapping, SqlConstant } from '../../config.js';
import { columnOf, type ColumnInfo, type Introspection, type Stored } from '../../ledger/introspect.js';
import type { Checkup } from './findings.js';
import type { Mapped } from './mapped.js';

/** The types of the mapped columns and of the `set`/`setManual` constants against what the tool writes. */
export async function checkLedgerTypes(c: Checkup, m: Mapped, maxCreditsPerPayment: number): Promise<void> {
  const { L, t } = m;
  const credits = columnOf(c.db, t, L.columns.credits);
  const ref = columnOf(c.db, t, L.columns.paymentRef);
  const created = L.columns.createdAt ? columnOf(c.db, t, L.columns.createdAt) : undefined;
  let problems = credits ? creditsProblems(c, credits, maxCreditsPerPayment) : 0;
  problems += ref ? refProblems(c, m, ref) : 0;
  problems += created ? createdAtProblems(c, created, L.createdAtFormat) : 0;
  problems += await constantTypeProblems(c, m);
  if (problems > 0 || !credits || !ref) return;
  const parts = [
    `credits "${credits.name}" ${credits.type || 'untyped'}`,
    `paymentRef "${ref.name}" ${ref.type || 'untyped'}`,
  ];
  if (created) parts.push(`createdAt "${created.name}" ${created.type || 'untyped'} (written as ${L.createdAtFormat})`);
  c.f.ok('ledger.types', parts.join(', '));
}

function creditsProblems(c: Checkup, credits: ColumnInfo, maxCreditsPerPayment: number): number {
  const type = credits.type || 'untyped';
  if (credits.kind === 'integer') {
    // Where types are enforced a smallint holds at most 32767; elsewhere it is only a name.
    if (!c.ix.typesEnforced || credits.type !== 'smallint' || maxCreditsPerPayment <= 32767) return 0;
    c.f.warn(
      'ledger.types',
      `credits "${credits.name}" is a smallint (at most 32767), and maxCreditsPerPayment is ${maxCreditsPerPayment}`,
      'set maxCreditsPerPayment to 32767 or less in the config file',
    );
  } else if (credits.kind === 'numeric') {
    c.f.warn(
      'ledger.types',
      `credits "${credits.name}" is ${type}, not an integer type: it holds whole credits, but reads back as a decimal`,
      'map ledger.columns.credits to an integer column if the app has one',
    );
  } else {
    c.f.fail(
      'ledger.types',
      `credits "${credits.name}" is ${type}: credits must be an integer column`,
      'set ledger.columns.credits to the integer column that holds the credits',
    );
  }
  return 1;
}

function refProblems(c: Checkup, m: Mapped, ref: ColumnInfo): number {
  if (ref.kind === 'text' || (!c.ix.typesEnforced && ref.kind === 'blob')) return 0;
  const fix = 'set ledger.columns.paymentRef to the text column that holds the Stripe id';
  if (c.ix.typesEnforced)
    c.f.fail(
      'ledger.types',
      `paymentRef "${ref.name}" is ${ref.type}: it cannot hold ${m.refWord} ids (pi_…, cs_…)`,
      fix,
    );
  else
    c.f.warn(
      'ledger.types',
      `paymentRef "${ref.name}" is ${ref.type || 'untyped'}, not TEXT: ${c.ix.name} stores the ids as text anyway, but the app may not expect it`,
      fix,
    );
  return 1;
}

function createdAtProblems(c: Checkup, created: ColumnInfo, format: LedgerMapping['createdAtFormat']): number {
  const problem = createdAtProblem(c.ix, created, format);
  if (!problem) return 0;
  const suggested = ['integer', 'numeric', 'float'].includes(created.kind) ? '"unix" (or "unix_ms")' : '"iso"';
  const fix = `set ledger.createdAtFormat to ${suggested}, or map ledger.columns.createdAt to another column (null leaves it to the column's default)`;
  if (problem.level === 'fail') c.f.fail('ledger.types', problem.message, fix);
  else c.f.warn('ledger.types', problem.message, fix);
  return 1;
}

/** What goes wrong writing a time in `format` into the column: an engine that enforces types refuses it. */
function createdAtProblem(
  ix: Introspection,
  c: ColumnInfo,
  format: LedgerMapping['createdAtFormat'],
): { level: 'warn' | 'fail'; message: string } | null {
  const what = `createdAt "${c.name}" is ${c.type || 'untyped'} and createdAtFormat is ${format}`;
  const enforced = ix.typesEnforced;
  if (format === 'iso') {
    if (c.kind === 'text' || c.kind === 'timestamp' || c.kind === 'blob') return null;
    if (c.kind === 'date') return { level: 'warn', message: `${what}: the time of day is dropped` };
    if (enforced)
      return {
        level: 'fail',
        message: `${what}: ${ix.name} refuses an ISO-8601 text in such a column, so every insert would fail`,
      };
    return {
      level: 'warn',
      message: `${what}: ${ix.name} stores the ISO-8601 text as it is, where the app expects a number`,
    };
  }
  if (c.kind === 'integer' || c.kind === 'numeric') {
    if (enforced && format === 'unix_ms' && c.type === 'integer')
      return { level: 'fail', message: `${what}: milliseconds overflow a 32-bit integer` };
    return null;
  }
  if (c.kind === 'float' || (!enforced && c.kind === 'timestamp')) return null;
  if (c.kind === 'timestamp' || c.kind === 'date')
    return {
      level: 'fail',
      message: `${what}: ${ix.name} refuses a number in such a column, so every insert would fail`,
    };
  return { level: 'warn', message: `${what}: the number is stored as text` };
}

/** One constant of `set` or `setManual`, with where the config gives it. */
interface Constant {
  where: string;
  key: string;
  value: string | number | boolean;
  col: ColumnInfo;
}

/** Each constant of `set` and `setManual` tried against its column's type by the engine itself. */
async function constantTypeProblems(c: Checkup, m: Mapped): Promise<number> {
  const probe = c.ix.constantProbe(c.db, m.t);
  let problems = 0;
  try {
    for (const [where, consts] of m.constants) {
      for (const [key, value] of Object.entries(consts) as Array<[string, SqlConstant]>) {
        const col = columnOf(c.db, m.t, key);
        if (value === null || !col || col.generated) continue;
        const stored = await probe.store(col, value);
        if (stored && constantFinding(c, m, { where, key, value, col }, stored)) problems++;
      }
    }
  } finally {
    probe.close();
  }
  return problems;
}

/** Reports what the engine does with a constant; returns whether it is a problem. */
function constantFinding(c: Checkup, m: Mapped, k: Constant, stored: NonNullable<Stored>): boolean {
  const { where, key, value: v, col } = k;
  const what = `${where}.${key} is ${JSON.stringify(v)}, but "${col.name}" is ${col.type || 'untyped'}`;
  const example =
    typeof v === 'boolean' && (col.kind === 'integer' || col.kind === 'numeric') ? ` (${v ? 1 : 0} for ${v})` : '';
  const fix = `set ${where}.${key} to a value of the column's type${example}: the value the app writes there`;
  if ('error' in stored) {
    const manualOnly = where === 'ledger.setManual';
    const msg = `${what}: ${c.ix.name}${m.t.strict ? ' (a STRICT table)' : ''} refuses it (${stored.error}), ${failsWhat(manualOnly, m.sameManual)}`;
    if (manualOnly) c.f.warn('ledger.types', msg, fix);
    else c.f.fail('ledger.types', msg, fix);
    return true;
  }
  // An engine that stores what it is given: a value stored as another type than the app's is only a warning.
  const numeric = col.kind === 'integer' || col.kind === 'numeric' || col.kind === 'float' || col.kind === 'boolean';
  if (stored.type === 'text' && typeof v === 'string' && numeric) {
    c.f.warn('ledger.types', `${what}: ${c.ix.name} stores it as text, where the app reads a number`, fix);
    return true;
  }
  if (stored.type === 'text' && typeof v !== 'string' && stored.text !== String(v)) {
    const noBooleans = typeof v === 'boolean' ? 'has no booleans and ' : '';
    c.f.warn('ledger.types', `${what}: ${c.ix.name} ${noBooleans}stores it as the text '${stored.text}'`, fix);
    return true;
  }
  return false;
}

function failsWhat(manualOnly: boolean, sameManual: boolean): string {
  if (manualOnly) return 'so manual entries (adjust, assign --reassign) would fail to insert';
  return sameManual
    ? 'so every insert the tool makes (purchases, adjustments) would fail'
    : 'so every purchase the tool writes would fail to insert';
}
