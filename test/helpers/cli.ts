import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import SQLite from 'better-sqlite3';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin', 'stripe-credits.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** A real process only: killed with SIGKILL after this long (code null). */
  timeoutMs?: number;
  /** Run the built bin as a child process instead of `main()` in this process (see runCli). */
  process?: boolean;
  /** A real process only, run as this user (root only: a file mode binds only others). */
  uid?: number;
  /** In process only: what the command reads on stdin (a password for `console user add`). */
  stdin?: string;
}

/**
 * Environment variables that only a process of its own can be given: read by libraries straight
 * from `process.env` (pg's PG*, Node's NODE_*), so an in-process run would not see them.
 */
const PROCESS_ONLY_ENV = /^(PG|NODE_)/;

/**
 * Runs the CLI on `args` and returns its exit code and output. By default in this process: `main()`
 * from the sources with its own stdout, stderr, environment and working directory (fast, and what is
 * tested is the source, never a stale build). A real child process (the built bin) when asked
 * (`process: true`), when the test kills it (`timeoutMs`), or when the environment names a variable
 * only a process sees: for exit codes as the shell sees them, signals, kill -9, the spinner on a TTY.
 */
export function runCli(args: string[], opts: RunOptions): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('STRIPE') && k !== 'DATABASE_URL') env[k] = v;
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const needsProcess =
    opts.process ||
    opts.timeoutMs !== undefined ||
    opts.uid !== undefined ||
    Object.keys(opts.env ?? {}).some((k) => PROCESS_ONLY_ENV.test(k));
  return needsProcess
    ? runCliProcess(args, opts.cwd, env, opts.timeoutMs, opts.uid)
    : runCliInProcess(args, opts.cwd, env, opts.stdin);
}

/** A stream that keeps what is written to it, as text. */
class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function runCliInProcess(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  input?: string,
): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = Readable.from(input === undefined ? [] : [Buffer.from(input)]);
  const code = await main(['node', 'stripe-credits', ...args], { stdout, stderr, env, cwd, stdin });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * The real CLI (the built bin) as a child process. Asynchronous on purpose: the simulator usually
 * runs inside the test process and must keep answering while the CLI waits on it.
 */
export function runCliProcess(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 50_000,
  uid?: number,
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const as = uid === undefined ? {} : { uid, gid: uid };
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/**
 * A CLI command that serves until a signal (`demo --keep`, `simulator`) as a real process: waits for
 * its `export …` line on stderr and returns that environment, and a stopper (SIGTERM) that resolves
 * to its exit code.
 */
export async function startServing(
  args: string[],
  cwd: string,
): Promise<{ env: Record<string, string>; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /^ {2}export (.+)$/m.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`${args.join(' ')} exited ${code} before serving: ${stderr}`)));
  });
  const env = Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
  return {
    env,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
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
  opts: {
    table?: string;
    idType?: 'INTEGER' | 'TEXT';
    customerColumn?: boolean;
    columns?: { id?: string; email?: string; name?: string };
  } = {},
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
