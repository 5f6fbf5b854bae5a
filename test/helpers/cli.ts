import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin', 'stripe-credits.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (the built bin) as a child process. Asynchronous on purpose: the simulator
 * usually runs inside the test process and must keep answering while the CLI waits on it.
 */
export function runCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number; /** run as this user (root only: a file mode binds only others) */ uid?: number },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith('STRIPE') && k !== 'DATABASE_URL') env[k] = v;
    }
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const as = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export function tempDir(prefix = 'sc-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestUser {
  id: number | string;
  email: string | null;
  name?: string | null;
  stripe_customer_id?: string | null;
}

/** An app database: a users table of the given shape, as an app would have it. */
export function createAppDb(
  path: string,
  users: TestUser[],
  opts: { table?: string; idType?: 'INTEGER' | 'TEXT'; customerColumn?: boolean; columns?: { id?: string; email?: string; name?: string } } = {},
): string {
  const t = opts.table ?? 'users';
  const c = { id: 'id', email: 'email', name: 'name', ...opts.columns };
  const db = new SQLite(path);
  try {
    db.exec(
      `CREATE TABLE ${t} (${c.id} ${opts.idType ?? 'INTEGER'} PRIMARY KEY, ${c.email} TEXT, ${c.name} TEXT${opts.customerColumn ? ', stripe_customer_id TEXT' : ''})`,
    );
    const cols = [c.id, c.email, c.name, ...(opts.customerColumn ? ['stripe_customer_id'] : [])];
    const insert = db.prepare(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (const u of users) {
        const values = [u.id, u.email, u.name ?? null, ...(opts.customerColumn ? [u.stripe_customer_id ?? null] : [])];
        insert.run(...values);
      }
    })();
  } finally {
    db.close();
  }
  return path;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Rows of a query on a SQLite file, read-only. A process killed mid-transaction (the kill -9 tests)
 * leaves a hot journal that a read-only connection cannot roll back (SQLITE_READONLY_ROLLBACK):
 * then the file is opened read-write, which rolls it back, as the next writer would.
 */
export function query<T = Record<string, unknown>>(path: string, sql: string, ...params: unknown[]): T[] {
  for (const readonly of [true, false]) {
    const db = new SQLite(path, { readonly });
    try {
      return db.prepare(sql).all(...params) as T[];
    } catch (e) {
      if (!(readonly && (e as { code?: string }).code?.startsWith('SQLITE_READONLY'))) throw e;
    } finally {
      db.close();
    }
  }
  throw new Error('unreachable');
}

export function writeJson(path: string, value: unknown): string {
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

/** Unix seconds. */
export const now = () => Math.floor(Date.now() / 1000);
export const HOUR = 3600;
export const DAY = 86400;
