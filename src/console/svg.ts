import { html } from 'hono/html';
import type { Html } from './layout.js';

/** A bar chart as inline SVG, drawn on the server: no script, no chart library, nothing fetched. */
export function barChart(title: string, points: readonly { day: string; value: number }[]): Html {
  const width = 540;
  const height = 160;
  const top = 18;
  const bottom = 20;
  const peak = Math.max(0, ...points.map((p) => p.value));
  const max = Math.max(1, peak);
  const step = width / Math.max(1, points.length);
  const bar = Math.max(1, step - 2);
  const scale = (height - top - bottom) / max;
  const first = points[0]?.day ?? '';
  const last = points[points.length - 1]?.day ?? '';
  return html`<figure class="chart">
    <svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${title}">
      <title>${title}</title>
      <text x="0" y="12" font-size="11" fill="#5b6470">max ${peak.toLocaleString('en-US')}</text>
      <line x1="0" y1="${top}" x2="${width}" y2="${top}" stroke="#d8dde3" stroke-dasharray="3 3" />
      <line x1="0" y1="${height - bottom}" x2="${width}" y2="${height - bottom}" stroke="#d8dde3" />
      ${points.map((p, i) => {
        const h = Math.round(p.value * scale);
        return html`<rect
          x="${Math.round(i * step)}"
          y="${height - bottom - h}"
          width="${Math.round(bar)}"
          height="${h}"
          fill="#2350a0"
          ><title>${p.day}: ${p.value}</title></rect
        >`;
      })}
      <text x="0" y="${height - 4}" font-size="11" fill="#5b6470">${first}</text>
      <text x="${width}" y="${height - 4}" font-size="11" fill="#5b6470" text-anchor="end">${last}</text>
    </svg>
    <figcaption>${title}</figcaption>
  </figure>`;
}
