import { DEFAULT_CONFIG_FILE, type Settings } from '../../config.js';
import { CliError } from '../../errors.js';
import { openDatabase, parseDbUrl, type OpenDb } from '../../ledger/db.js';
import { ownSchemaTables } from '../../ledger/engine.js';
import { introspectionFor } from '../../ledger/introspect.js';
import { ledgerModes } from '../../ledger/ledger.js';
import { checkBalance } from './balance.js';
import { checkDatabase } from './database.js';
import { Findings, type Checkup, type Finding } from './findings.js';
import { checkMappedLedger } from './ledger.js';
import { checkStripe } from './stripe.js';
import { checkUsers } from './users.js';

/**
 * `doctor`: checks the configuration against the database and the Stripe key and says what to fix.
 * It only reads: the database is opened read-only (a SQLite file stays byte-for-byte the same), and
 * Stripe is asked one small list request per permission the tool needs. The checks run in the
 * order their findings are printed: config, database, users, ledger, balance, Stripe.
 */

export type { Level } from './findings.js';

export interface DoctorReport {
  /** No finding is `fail` and every check could be made. */
  ok: boolean;
  findings: Finding[];
  /** 0: everything needed is in place; 2: something needed is missing or wrong; 1: a check could not be made (database or Stripe unreachable). */
  exitCode: 0 | 1 | 2;
}

export interface DoctorOptions {
  settings: Settings;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const f = new Findings();
  const { settings } = opts;
  f.ok(
    'config',
    settings.configPath
      ? `read ${settings.configPath}`
      : `no config file (${DEFAULT_CONFIG_FILE} is not in ${opts.cwd}, and neither --config nor STRIPE_CREDITS_CONFIG is given): the defaults`,
  );
  const open = await openReadOnly(opts, f);
  // The livemode of the payments the ledger holds, for the key's mode to be checked against.
  const modes = new Set<boolean>(open ? await checkDatabaseSide(open, settings, f) : []);
  await checkStripe(settings, opts.env, modes, f);
  const failed = f.list.some((x) => x.level === 'fail');
  return { ok: !failed && !f.toolFailed, findings: f.list, exitCode: f.toolFailed ? 1 : failed ? 2 : 0 };
}

/** The database, read-only; null (a failed finding) when it cannot be opened. */
async function openReadOnly(opts: DoctorOptions, f: Findings): Promise<OpenDb | null> {
  try {
    return await openDatabase(parseDbUrl(opts.settings.db, opts.cwd), { readonly: true });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    f.fail('database', e.message, e.hint ?? null);
    // A bad setting is the configuration's to fix (2); an unreachable server means a check could not be made (1).
    if (e.exitCode !== 2) f.toolFailed = true;
    return null;
  }
}

/** Every check of the database, in order; returns the livemode of the payments the ledger holds. */
async function checkDatabaseSide(open: OpenDb, settings: Settings, f: Findings): Promise<boolean[]> {
  const { config } = settings;
  const modes: boolean[] = [];
  try {
    const ix = introspectionFor(open.db);
    const c: Checkup = { db: open.db, ix, q: await ix.quoter(open.db), f };
    await checkDatabase(open, c);
    await checkUsers(c, config);
    if (config.ledger) {
      modes.push(...(await checkMappedLedger(c, config, config.ledger)));
    } else {
      f.ok(
        'ledger',
        "the tool's own ledger (credit_ledger): unique on (kind, payment_key), so a payment is credited at most once",
      );
      if ((await ownSchemaTables(open.db)).has('credit_ledger')) modes.push(...(await ledgerModes(open.db)));
    }
    if (config.balance) await checkBalance(c, config, config.balance);
  } finally {
    await open.close();
  }
  return modes;
}
