import type { Hono } from 'hono';
import { html } from 'hono/html';
import { runHealth } from '../app/run-health.js';
import type { RunView } from '../app/runs.js';
import { requireRole } from './auth-routes.js';
import { page, type Html } from './layout.js';
import { redactor } from './security.js';
import { barChart } from './svg.js';
import type { ConsoleDeps, ConsoleEnv } from './types.js';

function runRow(r: RunView, clean: (text: string) => string): Html {
  const c = r.counts ?? {};
  return html`<tr class="${r.status === 'succeeded' ? '' : 'attention'}">
    <td>${r.id}</td>
    <td>${r.startedAt.slice(0, 16).replace('T', ' ')}</td>
    <td>${r.mode}${r.source ? ` (${r.source})` : ''}</td>
    <td>${r.status}${r.error ? html`<div class="muted">${clean(r.error)}</div>` : ''}</td>
    <td class="num">${r.durationSeconds === null ? '' : `${r.durationSeconds}s`}</td>
    <td class="num">${c.payments ?? ''}</td>
    <td class="num">${c.credited ?? ''}</td>
    <td class="num">${c.needsReview ?? ''}</td>
    <td class="num">${r.creditsWritten}</td>
    <td>${r.actor}</td>
  </tr>`;
}

/** GET /runs (admin): the last runs as `runs` shows them, and the 30-day plots. */
export function runsRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  // A run's error may quote the database location with its password, as the CLI's errors are masked.
  const clean = redactor(deps.support);
  app.get('/runs', requireRole('admin'), async (c) => {
    const h = await runHealth(deps.support.settings, deps.support.cwd);
    const body = html`<div class="charts">
        ${barChart('Credits written per day (UTC), last 30 days', h.creditsPerDay)}
        ${barChart('Review backlog at the end of each day, last 30 days', h.backlogPerDay)}
      </div>
      <h2>Last runs</h2>
      ${
        h.runs.length === 0
          ? html`<p class="muted">No runs yet.</p>`
          : html`<table class="runs">
              <tr>
                <th>Run</th>
                <th>Started (UTC)</th>
                <th>Mode</th>
                <th>Outcome</th>
                <th>Duration</th>
                <th>Payments</th>
                <th>Credited</th>
                <th>Review</th>
                <th>Credits</th>
                <th>By</th>
              </tr>
              ${h.runs.map((r) => runRow(r, clean))}
            </table>`
      }`;
    return c.html(page('Runs', c.get('session'), body));
  });
}
