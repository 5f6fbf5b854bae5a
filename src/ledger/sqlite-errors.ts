import { CliError, ConfigError, DatabaseError } from '../errors.js';

/** The SQLite file a command opened, as messages name it, and whether it was opened read-only. */
export interface SqliteOpened {
  label: string;
  readonly: boolean;
}

/**
 * Which file an error of SQLite came from. SQLite's errors (better-sqlite3's SqliteError) carry a
 * code but not the file's name, and they reach the CLI's one error handler from anywhere in a
 * command: the connection that met one marks it with its file (see engines/sqlite.ts).
 */
const FILE = Symbol('stripe-credits sqlite file');

/** Marks an error with the file whose connection met it; returns the error. */
export function markSqliteFile(e: unknown, opened: SqliteOpened): unknown {
  if (typeof e === 'object' && e !== null && Object.isExtensible(e) && !(FILE in e))
    Object.defineProperty(e, FILE, { value: opened });
  return e;
}

function fileOf(e: unknown): SqliteOpened | null {
  return typeof e === 'object' && e !== null ? ((e as { [FILE]?: SqliteOpened })[FILE] ?? null) : null;
}

/** How long a statement waits for another process's lock before SQLite gives up (busy_timeout). */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/**
 * A SQLite error as one line with the contract's exit code, or null when it is not one of these:
 * locked by another process (75, as a held run lock: try again later), read-only (2: the file or
 * its directory needs write access), disk full or an I/O error (1: what was written is consistent).
 */
export function sqliteError(e: unknown, opened: SqliteOpened | null = fileOf(e)): CliError | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  const file = opened?.label ?? 'the SQLite database';
  const detail = (e as Error).message;
  if (code.startsWith('SQLITE_BUSY')) {
    return new CliError(
      `${file} is locked by another process (still locked after ${SQLITE_BUSY_TIMEOUT_MS / 1000} s): what was written is consistent`,
      75,
      'another process holds a write lock on the file (a run, the app, a backup or a sqlite3 shell in a transaction); try again later (cron: the next tick will)',
      { cause: e },
    );
  }
  // Opened read-only on purpose (a dry run, the reading commands), a write is the tool's own bug: not mapped.
  if ((code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN') && !opened?.readonly) {
    return new ConfigError(
      `the SQLite database ${file} cannot be written by this process (${detail})`,
      'the tool writes its tables into it: give the user that runs it write access to the file and to its directory (SQLite creates a journal file next to it)',
      { cause: e },
    );
  }
  if (code === 'SQLITE_FULL') {
    return new DatabaseError(
      `the disk is full writing ${file} (${detail}): what was written is consistent; free some space and rerun`,
      { cause: e },
    );
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new DatabaseError(
      `disk I/O error on ${file} (${code}: ${detail}): what was written is consistent; check the disk, then rerun`,
      { cause: e },
    );
  }
  return null;
}
