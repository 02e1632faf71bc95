// Talking to the node: Connect's JSON protocol for EvidenceService (unary
// calls as plain JSON POSTs, GetDocument's server stream as enveloped JSON
// messages) and the explorer's read-only JSON endpoints.

import { b64decode, b64encode } from './verify.js';

export class APIError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const SERVICE = '/evident.v1.EvidenceService/';

async function errorOf(res) {
  let j = null;
  try {
    j = await res.json();
  } catch {
    // not JSON: a proxy's or the server's plain error
  }
  return new APIError(j?.code ?? `http ${res.status}`, j?.message ?? `the node answered HTTP ${res.status}`);
}

async function unary(method, body) {
  let res;
  try {
    res = await fetch(SERVICE + method, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new APIError('unavailable', `couldn't reach the node: ${e.message}`);
  }
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

// queryEvidence asks for one page; q is one of {releasePurl},
// {packagePurl}, {artifactDigest}, {documentDigest}.
export function queryEvidence(q, pageSize = 500, pageToken = '') {
  return unary('QueryEvidence', { ...q, pageSize, pageToken });
}

// queryPages returns an iterator over the pages of a query, up to limit
// items: a first page of 50, so that something verified is on screen soon,
// then pages of 100. The first page is asked for at once, and each next one
// while the caller works on the current one. It stops early when live()
// turns false, and calls done(more) at the end.
export function queryPages(q, limit = 2000, live = () => true, done = () => {}) {
  const first = queryEvidence(q, Math.min(50, limit), '');
  first.catch(() => {}); // reported when the caller reaches it
  return (async function* pages() {
    let n = 0;
    let next = first;
    while (next) {
      const p = await next;
      n += p.evidence?.length ?? 0;
      const token = p.nextPageToken ?? '';
      next = token && n < limit && live() ? queryEvidence(q, Math.min(100, limit - n), token) : null;
      next?.catch(() => {});
      if (!live()) return;
      yield p;
      if (!next) done(!!token);
    }
  })();
}

// queryAll follows page tokens until limit items or the end. Each page has
// its own checkpoint: pages are returned as they came.
export async function queryAll(q, limit = 2000) {
  const pages = [];
  let token = '';
  let n = 0;
  do {
    const p = await queryEvidence(q, Math.min(250, limit - n), token);
    pages.push(p);
    n += p.evidence?.length ?? 0;
    token = p.nextPageToken ?? '';
  } while (token && n < limit);
  return { pages, more: !!token };
}

export function getEvidence(selector) {
  return unary('GetEvidence', selector);
}

// getDocument fetches a document by its SHA-256 (bytes) through the
// GetDocument server stream, as Connect's protocol frames it: each message
// a flag byte, a 32-bit big-endian length and JSON; flag 2 ends the stream
// with {error?, metadata?}.
export async function getDocument(digest) {
  const msg = new TextEncoder().encode(JSON.stringify({ documentSha256: b64encode(digest) }));
  const body = new Uint8Array(5 + msg.length);
  new DataView(body.buffer).setUint32(1, msg.length);
  body.set(msg, 5);
  let res;
  try {
    res = await fetch(SERVICE + 'GetDocument', {
      method: 'POST',
      headers: { 'Content-Type': 'application/connect+json', 'Connect-Protocol-Version': '1' },
      body,
    });
  } catch (e) {
    throw new APIError('unavailable', `couldn't reach the node: ${e.message}`);
  }
  if (!res.ok) throw await errorOf(res);
  const buf = new Uint8Array(await res.arrayBuffer());
  const dec = new TextDecoder();
  const chunks = [];
  let mediaType = '';
  let total = 0;
  let ended = false;
  for (let o = 0; o < buf.length;) {
    if (o + 5 > buf.length) throw new APIError('data-loss', 'the document stream was cut short');
    const flags = buf[o];
    const n = new DataView(buf.buffer, buf.byteOffset + o + 1, 4).getUint32(0);
    if (o + 5 + n > buf.length) throw new APIError('data-loss', 'the document stream was cut short');
    const j = JSON.parse(dec.decode(buf.subarray(o + 5, o + 5 + n)));
    o += 5 + n;
    if (flags & 2) {
      if (j.error) throw new APIError(j.error.code ?? 'unknown', j.error.message ?? 'the node ended the stream with an error');
      ended = true;
      break;
    }
    if (j.mediaType) mediaType = j.mediaType;
    const c = b64decode(j.chunk ?? '');
    chunks.push(c);
    total += c.length;
  }
  if (!ended) throw new APIError('data-loss', 'the document stream has no end');
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return { bytes: out, mediaType };
}

// getJSON reads one of the explorer's endpoints (/api/v1/...).
export async function getJSON(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new APIError('unavailable', `couldn't reach the node: ${e.message}`);
  }
  if (!res.ok) throw new APIError(`http ${res.status}`, `${path} answered HTTP ${res.status}`);
  return res.json();
}
