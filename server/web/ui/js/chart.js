// The log's growth: tree size over time, drawn as SVG by the page itself.

import { h, s } from './dom.js';

const W = 640;
const H = 260;
const M = { left: 64, right: 16, top: 16, bottom: 40 };

function niceMax(n) {
  if (n <= 10) return Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return n;
}

function dayLabel(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function timeLabel(ms, spanMs) {
  const iso = new Date(ms).toISOString();
  return spanMs < 2 * 86400e3 ? iso.slice(11, 16) + ' UTC' : dayLabel(ms);
}

// growthChart returns a figure with the chart of points ({size, time}).
export function growthChart(points) {
  const pts = points
    .map((p) => ({ size: Number(p.size), t: Date.parse(p.time) }))
    .filter((p) => Number.isFinite(p.size) && Number.isFinite(p.t));
  if (pts.length === 0) return h('p', { class: 'note' }, 'The log is empty: nothing to chart yet.');
  pts.sort((a, b) => a.t - b.t || a.size - b.size);
  const t0 = pts[0].t;
  let t1 = pts[pts.length - 1].t;
  if (t1 === t0) t1 = t0 + 1000;
  const yMax = niceMax(pts[pts.length - 1].size);
  const x = (t) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (n) => H - M.bottom - (n / yMax) * (H - M.top - M.bottom);
  // A step line: the size holds until the next sampled entry.
  let d = `M ${x(pts[0].t).toFixed(1)} ${y(0).toFixed(1)}`;
  for (const p of pts) d += ` L ${x(p.t).toFixed(1)} ${y(p.size).toFixed(1)}`;
  const area = d + ` L ${x(pts[pts.length - 1].t).toFixed(1)} ${y(0).toFixed(1)} Z`;
  const last = pts[pts.length - 1];
  const when = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  const desc = `The log grew from ${pts[0].size.toLocaleString('en')} to ${last.size.toLocaleString('en')} entries between ${when(t0)} and ${when(last.t)}.`;
  const grid = [];
  const step = niceMax(yMax / 5);
  for (let v = 0; v <= yMax; v += step) {
    grid.push(s('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }));
    grid.push(s('text', { x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toLocaleString('en')));
  }
  for (const f of [0, 0.5, 1]) {
    const t = t0 + (t1 - t0) * f;
    const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
    grid.push(s('text', { x: x(t), y: H - M.bottom + 20, 'text-anchor': anchor, class: 'tick' }, timeLabel(t, t1 - t0)));
  }
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'growth-title growth-desc', preserveAspectRatio: 'xMidYMid meet' },
    s('title', { id: 'growth-title' }, 'Log size over time'),
    s('desc', { id: 'growth-desc' }, desc),
    grid,
    s('path', { d: area, class: 'area' }),
    s('path', { d, class: 'line' }),
    s('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: 'axis' }),
    s('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'axis' }));
  const rows = pts.filter((_, i) => i % Math.ceil(pts.length / 12) === 0 || i === pts.length - 1);
  return h('figure', { class: 'chart-figure' }, svg,
    h('figcaption', null, desc),
    h('details', null, h('summary', null, 'The chart as a table'),
      h('div', { class: 'scroll', tabindex: '0' }, h('table', null,
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time (UTC)'), h('th', { scope: 'col' }, 'Entries'))),
        h('tbody', null, rows.map((p) => h('tr', null, h('td', null, new Date(p.t).toISOString()), h('td', null, p.size.toLocaleString('en')))))))));
}
