/** The console's one stylesheet, served by the tool itself (no asset from the internet). */
export const CONSOLE_CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --accent: #2350a0; --bad: #a3261b; --ok: #1d6b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f7f9; }
header { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em; background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; }
header nav a { margin-right: 1em; color: var(--accent); text-decoration: none; }
header .who { margin-left: auto; color: var(--muted); }
header form { display: inline; }
main { padding: 1em 1.2em; max-width: 1200px; }
h1 { font-size: 1.3em; margin: .2em 0 .8em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: .45em .6em; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: .9em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .id { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .92em; }
.muted { color: var(--muted); }
.box { background: #fff; border: 1px solid var(--line); padding: 1em; margin: 0 0 1em; max-width: 720px; }
.error { border-color: var(--bad); color: var(--bad); }
.ok { border-color: var(--ok); color: var(--ok); }
form.filters { display: flex; gap: 1em; align-items: end; margin: 0 0 1em; }
label { display: block; font-size: .9em; color: var(--muted); }
input[type=text], input[type=password], input[type=search], select { font: inherit; padding: .35em .5em; border: 1px solid var(--line); border-radius: 3px; min-width: 16em; }
button, .button { display: inline-block; font: inherit; padding: .35em .9em; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 3px; cursor: pointer; text-decoration: none; }
button.plain, .button.plain { background: #fff; color: var(--accent); }
td.actions .button { margin: 0 .3em .3em 0; }
td.when, td.actions, table.runs td:nth-child(2), table.runs td:nth-child(3) { white-space: nowrap; }
tr.attention td { background: #fff6f5; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure.chart { margin: 0 0 1em; background: #fff; border: 1px solid var(--line); padding: .6em; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3em 1em; margin: 0; }
dt { color: var(--muted); }
`;
