// Building the page. Every string from the node (entries, documents, peers)
// goes in as a Text node or an attribute value set through the DOM, never
// as markup: there is no innerHTML anywhere in these pages, and the
// Content-Security-Policy's Trusted Types would make it throw.

// h creates an element: attributes from attrs (on* keys add listeners),
// then the children, strings as text.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

// s creates an SVG element, as h does.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// route builds a fragment link: "#/<page>/<encoded part>..."; every
// part is percent-encoded, so no text from the node can change the route.
export function route(page, ...parts) {
  return '#/' + [page, ...parts.map((p) => encodeURIComponent(String(p)))].join('/');
}

// shortID abbreviates a long identifier for display; the whole of it goes
// in a title attribute.
export function shortID(id, keep = 24) {
  return id.length > keep + 3 ? id.slice(0, keep) + '\u2026' : id;
}

export function formatTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

export function formatBytes(n) {
  n = Number(n);
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

// status renders a verification mark: an icon and words, not colour alone.
export function mark(state, text) {
  const icon = { ok: '\u2714', fail: '\u2716', warn: '\u26a0', wait: '\u2026', none: '\u2013' }[state] ?? '';
  return h('span', { class: `mark mark-${state}` }, h('span', { 'aria-hidden': 'true' }, icon), ' ', text);
}

// table builds a data table; on a narrow screen the style sheet shows each
// row as a block, labelling each cell with its column's header (data-label).
export function table(caption, headers, rows) {
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: 'stack' },
      h('caption', null, caption),
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.map((cells) => h('tr', null, cells.map((c, i) => {
        const cell = h(i === 0 ? 'th' : 'td', i === 0 ? { scope: 'row' } : null, c);
        cell.setAttribute('data-label', headers[i]);
        return cell;
      }))))));
}
