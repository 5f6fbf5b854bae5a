import type { MigrationResultSet } from 'kysely';
import { maskDbUrl } from '../mask.js';

/** The migration that failed in a result set, if one did. */
export function failedMigration(outcome: MigrationResultSet | undefined): string | undefined {
  return outcome?.results?.find((r) => r.status === 'Error')?.migrationName;
}

/** What a failed migration is reported as, before the engine adds what it knows of the error. */
export function migrationMessage(failed: string | undefined, error: unknown): string {
  return `${failed ? `migration ${failed}` : "migrating the tool's tables"} failed: ${maskDbUrl((error as Error).message ?? String(error))}`;
}
