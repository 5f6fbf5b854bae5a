import { InterruptedError } from '../app/stop.js';

/** How long a stopping run may take to finish its step and release its lock before the process ends anyway. */
const GRACE_MS = 20_000;

const CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * SIGINT and SIGTERM stop the command cleanly while it runs: `signal` aborts with an
 * InterruptedError, the command finishes or rolls back its current transaction, releases its lock
 * and records itself as interrupted. A second signal, or a stop that takes longer than the grace
 * period, ends the process at once: SQLite's journal and Postgres roll back whatever is open.
 */
export function stopOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const onSignal = (name: keyof typeof CODES) => {
    if (controller.signal.aborted) process.exit(CODES[name]);
    controller.abort(new InterruptedError(name));
    grace = setTimeout(() => process.exit(CODES[name]), GRACE_MS);
    grace.unref();
  };
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
  for (const [name, handler] of Object.entries(handlers)) process.on(name, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(grace);
      for (const [name, handler] of Object.entries(handlers)) process.off(name, handler);
    },
  };
}
