import type { Command } from 'commander';
import type { Io } from './output.js';

/** What every command runs with: where it writes, its environment, and who it records as the actor. */
export interface CommandContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  cwd: string;
  defaultActor: string;
}

/** What each file of command definitions needs to register its commands on the program (see main.ts). */
export interface Registrar {
  program: Command;
  ctx: CommandContext;
  setResult: (code: number) => void;
  /** Adds the options every command takes (--db, --config, --json, --actor, …). */
  common: (cmd: Command, traits: CommandTraits) => Command;
}

/** Options every command takes. */
export interface CommonFlags {
  db?: string;
  config?: string;
  stripeApiBase?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  actor?: string;
}

/** What a command does beyond reading the database: whether it calls Stripe, whether it records who wrote. */
export interface CommandTraits {
  stripe: boolean;
  writes: boolean;
}
