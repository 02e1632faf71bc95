// Showing a logged document safely: formatted JSON or XML, and everything
// else (Markdown, YAML, text) as plain text. The result is text in a <pre>,
// whatever the document says it is: an HTML or SVG document is shown as
// its source, never rendered.

import { h } from './dom.js';

// maxShown bounds what is formatted and put on the page; the download
// always has the whole document.
const maxShown = 1 << 20;

// docKind tells how to show a document of mediaType whose text starts so.
export function docKind(mediaType, text) {
  const mt = String(mediaType).toLowerCase();
  const start = text.trimStart().slice(0, 1);
  if (/[/+]json\b|^application\/json/.test(mt)) return 'json';
  if (/[/+]xml\b/.test(mt)) return 'xml';
  if (mt.startsWith('text/') || /yaml|markdown/.test(mt)) return 'text';
  if (start === '{' || start === '[') return 'json';
  if (start === '<') return 'xml';
  return 'text';
}

// formatJSON re-indents JSON text without parsing values, so numbers and
// strings are shown exactly as written (JSON.parse would round large
// numbers). It assumes text is valid JSON (checked by the caller).
export function formatJSON(text) {
  let out = '';
  let depth = 0;
  const nl = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      let j = i + 1;
      while (/\s/.test(text[j] ?? '')) j++;
      if (text[j] === close) {
        out += c + close;
        i = j;
      } else {
        depth++;
        out += c + nl();
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += nl() + c;
    } else if (c === ',') {
      out += ',' + nl();
    } else if (c === ':') {
      out += ': ';
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

// formatXML puts each tag on its own line, indented by depth; text,
// comments and CDATA are kept as written. It reads the text, it never
// parses it into a document.
export function formatXML(text) {
  const tokens = text.split(/(<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[^>]*>)/);
  const lines = [];
  let depth = 0;
  for (const t of tokens) {
    const v = t.trim();
    if (!v) continue;
    if (/^<\//.test(v)) {
      depth = Math.max(0, depth - 1);
      lines.push('  '.repeat(depth) + v);
    } else if (/^<[^!?]/.test(v) && !/\/>$/.test(v)) {
      lines.push('  '.repeat(depth) + v);
      depth++;
    } else {
      lines.push('  '.repeat(depth) + v.replace(/\s*\n\s*/g, ' '));
    }
  }
  return lines.join('\n');
}

// renderDocument returns the element that shows a document.
export function renderDocument(bytes, mediaType) {
  const cut = bytes.length > maxShown;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(cut ? bytes.subarray(0, maxShown) : bytes);
  } catch {
    if (!cut) return h('p', { class: 'note' }, 'This document is not text; download it to open it with a program you trust.');
    text = new TextDecoder('utf-8').decode(bytes.subarray(0, maxShown));
  }
  let kind = docKind(mediaType, text);
  let shown = text;
  let how = 'as text';
  if (kind === 'json' && !cut) {
    try {
      JSON.parse(text);
      shown = formatJSON(text);
      how = 'as formatted JSON';
    } catch {
      kind = 'text';
    }
  } else if (kind === 'xml' && !cut) {
    shown = formatXML(text);
    how = 'as formatted XML';
  }
  return h('div', { class: 'doc' },
    h('p', { class: 'note' }, `Shown ${how}${cut ? `, the first ${maxShown >> 20} MiB only` : ''}. Nothing in it is run or rendered.`),
    h('pre', { class: 'doc-text', tabindex: '0', 'aria-label': 'Document content' }, shown));
}
