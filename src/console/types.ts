import type { ConsoleSessions, SignedIn } from '../app/console-accounts.js';
import type { SupportOptions } from '../app/corrections.js';
import type { Transport } from './security.js';

/** What the console's routes run with: the CLI's settings, the accounts, how it is reached. */
export interface ConsoleDeps {
  support: SupportOptions;
  sessions: ConsoleSessions;
  transport: Transport;
}

/** Hono's per-request variables: set by requireSession for every route behind it. */
export interface ConsoleEnv {
  /** logNote: what the request log line adds for the operator (why a sign-in was refused), never shown to the client. */
  Variables: { session: SignedIn; token: string; logNote: string };
}
