import type { CliError } from '../errors.js';

/**
 * What the CLI needs to print an error safely: database locations masked, their passwords redacted
 * wherever they appear, and a database's own error turned into one line.
 */
export { locationSecrets, maskDbUrl, redactSecrets } from '../ledger/mask.js';

/** The database's error as one line, or null when it is not one; loads the drivers only when asked. */
export async function databaseError(e: unknown): Promise<CliError | null> {
  return (await import('../ledger/db.js')).databaseError(e);
}
