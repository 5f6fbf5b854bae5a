/**
 * Typed errors. Each carries the exit code of SPEC "Exit codes"; the CLI entry point is the
 * only place that turns them into a line on stderr and a process exit code.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flag or value, unknown option, malformed WHEN: exit 2. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** Bad config file, missing table or column, unsupported database URL: exit 2. */
/** A webhook whose signature does not verify: the sender's fault (a route answers 400), never retried into success. */
export class WebhookSignatureError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

export class ConfigError extends CliError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, 2, hint, options);
  }
}

/** Missing, malformed or rejected Stripe key, or a key lacking a permission: exit 2. */
export class StripeAuthError extends CliError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, 2, hint, options);
  }
}

/** Stripe could not be reached or kept failing after retries: exit 1. */
export class StripeUnavailableError extends CliError {
  constructor(
    message: string,
    readonly requestId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, 1, undefined, options);
  }
}

/** The database failed underneath us: exit 1 (what was written is consistent). */
export class DatabaseError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 1, undefined, options);
  }
}

/** Done, but a person should look (safety cap, first run refused, already credited): exit 3. */
export class AttentionError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 3, hint);
  }
}

/** Masks a secret key for messages: prefix and last four characters only. */
export function maskKey(key: string): string {
  const m = /^((?:sk|rk|pk)_(?:test|live)_)/.exec(key);
  const prefix = m?.[1] ?? '';
  const tail = key.length > prefix.length + 8 ? key.slice(-4) : '';
  return `${prefix}****${tail}`;
}
