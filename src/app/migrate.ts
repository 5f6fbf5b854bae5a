import type { Settings } from '../config.js';
import { migrateToLatest, openDatabase, parseDbUrl } from '../ledger/db.js';

/** Creates or upgrades the tool's tables: the database as it may be shown, and the migrations applied. */
export async function migrate(settings: Settings, cwd: string): Promise<{ database: string; applied: string[] }> {
  const open = await openDatabase(parseDbUrl(settings.db, cwd), { readonly: false });
  try {
    const applied = await migrateToLatest(open.db);
    return { database: open.location.label, applied };
  } finally {
    await open.close();
  }
}
