import { join } from 'node:path';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { tempDir, writeJson } from './cli.js';
import { createAppDb, type AppDb, type EngineName } from './engines.js';

/** One test's world: its simulator, a temp dir holding `config.json`, and an app database. */
export interface World {
  sim: StripeSimulator;
  tmp: ReturnType<typeof tempDir>;
  app: AppDb;
}

/** A simulator taking `key`, a temp dir with `config` as config.json, and users 1..`users` (uN@example.com). */
export async function openWorld(
  engine: EngineName,
  opts: { key: string; config: object; users: number },
): Promise<World> {
  const sim = await startSimulator({ apiKeys: [opts.key] });
  const tmp = tempDir();
  const app = await createAppDb(
    engine,
    tmp.dir,
    Array.from({ length: opts.users }, (_, i) => ({ id: i + 1, email: `u${i + 1}@example.com` })),
  );
  writeJson(join(tmp.dir, 'config.json'), opts.config);
  return { sim, tmp, app };
}

export async function closeWorld(w: World): Promise<void> {
  await w.sim.close();
  await w.app.close();
  w.tmp.cleanup();
}
