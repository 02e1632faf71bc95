// Reading log entries (evidence/ENTRY.md, version 2). The pages show what
// the entry says, the bytes whose inclusion they verify, not the node's
// decoded summary of it.

import { FormatError } from './verify.js';

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

// decodeText joins the values of a free-text line (ENTRY.md, "Free text"):
// %XX is a byte, every other character itself; the bytes are UTF-8.
function decodeText(values) {
  const words = values.map((v) => {
    const bytes = [];
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '%') {
        const h = v.slice(i + 1, i + 3);
        if (!/^[0-9A-F]{2}$/.test(h)) throw new FormatError('bad % escape in free text');
        bytes.push(parseInt(h, 16));
        i += 2;
      } else {
        bytes.push(v.charCodeAt(i));
      }
    }
    return utf8Fatal.decode(Uint8Array.from(bytes));
  });
  return words.join(' ');
}

// parseEntry reads an entry. It returns {version: 2, ...fields} for a
// version 2 entry, or {version: 0, firstLine} for anything else (readers
// show it as unknown).
export function parseEntry(bytes) {
  const text = new TextDecoder('utf-8').decode(bytes);
  if (!/^[\x20-\x7e\n]*$/.test(text) || !text.endsWith('\n')) throw new FormatError('an entry is printable ASCII lines');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== 'evident.dev/entry/v2') return { version: 0, firstLine: lines[0].slice(0, 80) };
  let i = 1;
  const take = (kw) => {
    const line = lines[i];
    if (line === undefined || !line.startsWith(kw + ' ')) throw new FormatError(`expected a ${kw} line`);
    i++;
    return line.slice(kw.length + 1).split(' ');
  };
  const e = { version: 2, signers: [], subjects: [] };
  const env = take('envelope');
  e.envelope = { digest: env[0], size: env[1], encoding: env[2] };
  e.predicateType = take('type').join(' ');
  e.kind = take('kind')[0];
  const doc = take('document');
  if (!/^sha256:[0-9a-f]{64}$/.test(doc[0])) throw new FormatError('bad document digest');
  e.document = { digest: doc[0], hex: doc[0].slice(7), size: Number(doc[1]), mediaType: doc.slice(2).join(' ') };
  e.format = decodeText(take('format'));
  e.name = decodeText(take('name'));
  while (lines[i]?.startsWith('signer ')) e.signers.push(take('signer').join(' '));
  while (lines[i]?.startsWith('subject ')) {
    const [purl, ...digests] = take('subject');
    e.subjects.push({ purl, digests });
  }
  e.time = take('time')[0];
  if (i !== lines.length) throw new FormatError('unexpected lines after time');
  if (!e.signers.length || !e.subjects.length) throw new FormatError('an entry has signers and subjects');
  return e;
}

// purlParts splits a Package URL into its package (type, namespace, name)
// and version, ignoring qualifiers and subpath. A version is what follows
// the last "@" of the last path segment.
export function purlParts(purl) {
  const base = purl.split('#')[0].split('?')[0];
  const slash = base.lastIndexOf('/');
  const at = base.indexOf('@', slash + 1);
  if (at < 0) return { pkg: base, version: '' };
  return { pkg: base.slice(0, at), version: base.slice(at + 1) };
}
