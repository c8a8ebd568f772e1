/**
 * The report page's static files, served by the broker itself (no front-end build, no CDN): its stylesheet, its
 * script (draws each database's timeline with Chart.js from the JSON block the page carries) and Chart.js's own UMD
 * bundle from node_modules. The page works without them: the table holds every row.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #fff; --soft: #f6f8fa;
  --normal: #2563eb; --glass: #dc2626; --self: #d97706; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 12px 16px; }
h1 { font-size: 1.4rem; margin: 8px 0 4px; }
h2 { font-size: 1.15rem; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.muted { color: var(--muted); }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; background: var(--soft); padding: 12px; border-radius: 8px; }
form.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); min-width: 140px; flex: 1 1 140px; }
form.filters select, form.filters input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--fg); }
form.filters .actions { display: flex; gap: 8px; flex: 1 1 200px; }
button, a.button { font: inherit; padding: 7px 14px; border-radius: 6px; border: 1px solid var(--normal); background: var(--normal); color: #fff; text-decoration: none; cursor: pointer; }
a.button.secondary { background: #fff; color: var(--normal); }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 0; font-size: .85rem; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: -1px; background: var(--normal); }
.swatch.glass { background: var(--glass); } .swatch.self { background: var(--self); }
.chart { position: relative; width: 100%; min-height: 120px; margin: 8px 0 12px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.t { white-space: nowrap; }
tr.break-glass td:first-child { box-shadow: inset 4px 0 0 var(--glass); }
tr.self-extended td:first-child { box-shadow: inset 4px 0 0 var(--self); }
.tag { display: inline-block; font-size: .75rem; font-weight: 600; padding: 1px 6px; border-radius: 10px; margin: 0 4px 2px 0; }
.tag.glass { background: #fee2e2; color: #991b1b; } .tag.self { background: #fef3c7; color: #92400e; }
.tag.live { background: #dcfce7; color: #166534; }
.empty { padding: 24px; background: var(--soft); border-radius: 8px; }
.refused { max-width: 560px; margin: 15vh auto; padding: 24px; border: 1px solid var(--line); border-radius: 8px; }
@media (max-width: 700px) {
  body { font-size: 14px; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { position: absolute; left: -9999px; }
  tr { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 10px; padding: 4px 0; }
  td { border: 0; padding: 3px 10px; display: grid; grid-template-columns: 8.5em 1fr; gap: 8px; }
  td::before { content: attr(data-label); color: var(--muted); font-size: .8rem; }
  td > div { min-width: 0; overflow-wrap: anywhere; }
  td.t { white-space: normal; }
  tr.break-glass, tr.self-extended { box-shadow: none; }
  tr.break-glass { border-left: 4px solid var(--glass); } tr.self-extended { border-left: 4px solid var(--self); }
  tr.break-glass td:first-child, tr.self-extended td:first-child { box-shadow: none; }
}
`;

/** Reads the page's JSON block and draws one horizontal floating-bar chart per database (no date adapter: the
 *  x axis is linear milliseconds, its ticks formatted here). */
export const REPORT_JS = `
(function () {
  'use strict';
  var block = document.getElementById('report-data');
  if (!block || typeof window.Chart !== 'function') return;
  var data = JSON.parse(block.textContent);
  var COLORS = { normal: '#2563eb', glass: '#dc2626', self: '#d97706' };
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function when(ms, withDate, withSeconds) {
    var d = new Date(ms);
    var hm = two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + (withSeconds ? ':' + two(d.getUTCSeconds()) : '');
    return withDate ? d.getUTCFullYear() + '-' + two(d.getUTCMonth() + 1) + '-' + two(d.getUTCDate()) + ' ' + hm : hm;
  }
  data.charts.forEach(function (c) {
    var canvas = document.getElementById(c.canvas);
    if (!canvas) return;
    // The axis spans the bars (padded), within the range asked for: short grants in a month stay visible.
    var lo = Math.min.apply(null, c.bars.map(function (b) { return b.from; }));
    var hi = Math.max.apply(null, c.bars.map(function (b) { return b.to; }));
    var pad = Math.max((hi - lo) * 0.05, 60000);
    var min = Math.max(data.since, lo - pad);
    var max = Math.min(data.until, hi + pad);
    var span = max - min;
    var narrow = canvas.parentNode.clientWidth < 520;
    canvas.parentNode.style.height = 60 + c.bars.length * 30 + 'px';
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: c.bars.map(function (b) { return b.label; }),
        datasets: [{
          data: c.bars.map(function (b) { return [b.from, b.to]; }),
          backgroundColor: c.bars.map(function (b) { return COLORS[b.kind]; }),
          borderSkipped: false,
          borderRadius: 3,
          barPercentage: 0.8,
          categoryPercentage: 0.9,
          minBarLength: 3
        }]
      },
      options: {
        indexAxis: 'y',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            type: 'linear',
            min: min,
            max: max,
            ticks: {
              maxRotation: 0,
              autoSkipPadding: 16,
              callback: function (v) { return when(v, span > 86400000, span < 600000); }
            }
          },
          y: {
            ticks: {
              autoSkip: false,
              callback: function (v) {
                var label = c.bars[v].label;
                return narrow && label.length > 18 ? label.slice(0, 17) + '…' : label;
              }
            }
          }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var b = c.bars[ctx.dataIndex];
                return when(b.from, true) + ' → ' + (b.live ? 'still active' : when(b.to, true)) + ' UTC · ' + b.note;
              }
            }
          }
        }
      }
    });
  });
})();
`;

const versionOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

export interface Asset {
  body: string | Buffer;
  type: string;
  /** A short content hash: the page asks for `?v=<version>`, so a year-long cache never serves a stale file. */
  version: string;
}

let chartJs: Asset | undefined;

/** Chart.js's UMD bundle, read from node_modules once. */
function chartAsset(): Asset {
  if (!chartJs) {
    // The package exports only its entry points; its UMD bundle sits beside the CommonJS one.
    const entry = createRequire(import.meta.url).resolve('chart.js');
    const body = readFileSync(join(dirname(entry), 'chart.umd.min.js'));
    chartJs = { body, type: 'text/javascript; charset=utf-8', version: versionOf(body.toString('latin1')) };
  }
  return chartJs;
}

/** The report's static files by name (under /report/assets/). */
export const REPORT_ASSETS: Record<string, () => Asset> = {
  'report.css': () => ({ body: REPORT_CSS, type: 'text/css; charset=utf-8', version: versionOf(REPORT_CSS) }),
  'report.js': () => ({ body: REPORT_JS, type: 'text/javascript; charset=utf-8', version: versionOf(REPORT_JS) }),
  'chart.umd.min.js': chartAsset,
};
