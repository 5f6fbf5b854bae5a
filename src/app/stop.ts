import { setMaxListeners } from 'node:events';
import { CliError } from '../errors.js';

/**
 * A run stopped by SIGINT or SIGTERM (cron, systemd and Kubernetes stop jobs with them): exit 130 or
 * 143, as a shell reports a process ended by that signal.
 */
export class InterruptedError extends CliError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(
      `stopped by ${signal}: nothing is left half-written or locked, and the next run continues from where this one stood`,
      signal === 'SIGINT' ? 130 : 143,
    );
  }
}

/** The run took longer than its wall-clock budget: exit 1, like Stripe being unreachable. */
export class RunBudgetError extends CliError {
  constructor(budgetMs: number) {
    super(
      `the run took longer than its budget of ${budgetMs / 1000} s and stopped: nothing is left half-written or locked`,
      1,
      'a rerun continues; a first run over a long history may need more: STRIPE_CREDITS_RUN_SECONDS',
    );
  }
}

/**
 * What stops a run: `outer` (the CLI's signals) or its wall-clock budget, whichever comes first.
 * `dispose` ends the budget's timer once the run is over.
 */
export function runSignal(outer: AbortSignal | undefined, budgetMs: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  // Each request in flight and each retry's wait listens on it: dozens at once in a sliced scan, which
  // is no leak (each goes with its request), so Node's warning past ten would only be noise in cron mail.
  setMaxListeners(0, controller.signal);
  const timer = setTimeout(() => controller.abort(new RunBudgetError(budgetMs)), budgetMs);
  timer.unref();
  const onOuter = () => controller.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
