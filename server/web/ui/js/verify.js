// Verification in the browser: SHA-256 and Ed25519 through WebCrypto, the
// signed-note and checkpoint formats, cosignatures and RFC 6962 inclusion
// proofs written out here, so that what the page calls verified does not
// rest on the server's word.

const utf8 = new TextEncoder();

export class FormatError extends Error {}

// b64decode decodes standard base64 (RFC 4648 section 4, with padding),
// refusing anything else.
export function b64decode(s) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new FormatError('not base64');
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function hex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s) {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new FormatError('not lowercase hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

// c2sp.org/signed-note: signature types of the key's first byte.
export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04; // c2sp.org/tlog-cosignature

// parseVerifierKey reads a verifier key "<name>+<hash>+<base64 key>"
// (c2sp.org/signed-note) of an Ed25519 note signer or a cosignature/v1
// witness, checks its key hash and imports the Ed25519 public key.
export async function parseVerifierKey(vkey) {
  // The name has no '+'; the base64 key may.
  const text = String(vkey).trim();
  const i = text.indexOf('+');
  const j = text.indexOf('+', i + 1);
  if (i < 0 || j < 0) throw new FormatError('a verifier key is name+hash+key');
  const [name, hashHex, keyB64] = [text.slice(0, i), text.slice(i + 1, j), text.slice(j + 1)];
  if (!name || /[\s+]/.test(name)) throw new FormatError('the key name is empty or has a space or +');
  if (!/^[0-9a-f]{8}$/.test(hashHex)) throw new FormatError('the key hash is not 8 hex digits');
  const key = b64decode(keyB64);
  const alg = key[0];
  if ((alg !== ALG_ED25519 && alg !== ALG_COSIGNATURE_V1) || key.length !== 33) {
    throw new FormatError(`key type ${alg} is not Ed25519 (1) or cosignature/v1 (4)`);
  }
  // c2sp.org/signed-note: the key ID is the first four bytes of
  // SHA-256(name || 0x0A || type || public key).
  const id = (await sha256(concat(utf8.encode(name + '\n'), key))).subarray(0, 4);
  if (hex(id) !== hashHex) throw new FormatError('the key hash does not match the key');
  const cryptoKey = await crypto.subtle.importKey('raw', key.subarray(1), { name: 'Ed25519' }, false, ['verify']);
  return { name, id: hashHex, alg, cryptoKey, text };
}

// parseNote splits a signed note (c2sp.org/signed-note) into its text and
// its signature lines. Lines that are not well-formed signatures make the
// note malformed.
export function parseNote(signed) {
  const i = signed.lastIndexOf('\n\n');
  if (i < 0) throw new FormatError('a signed note has a blank line before its signatures');
  const text = signed.slice(0, i + 1);
  const sigLines = signed.slice(i + 2);
  if (!sigLines.endsWith('\n')) throw new FormatError('signature lines end with a newline');
  const sigs = [];
  for (const line of sigLines.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new FormatError('a signature line is "\u2014 name base64"');
    const raw = b64decode(m[2]);
    if (raw.length < 5) throw new FormatError('a signature is too short');
    sigs.push({ name: m[1], id: hex(raw.subarray(0, 4)), sig: raw.subarray(4), line });
  }
  return { text, textBytes: utf8.encode(text), sigs };
}

// parseCheckpoint reads a checkpoint body (c2sp.org/tlog-checkpoint):
// origin, decimal tree size, base64 root hash, then extension lines.
export function parseCheckpoint(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new FormatError('a checkpoint has three lines and ends in a newline');
  const [origin, sizeText, rootB64] = lines;
  if (!origin) throw new FormatError('the checkpoint has no origin');
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) throw new FormatError('the tree size is not a decimal number');
  const root = b64decode(rootB64);
  if (root.length !== 32) throw new FormatError('the root hash is not 32 bytes');
  return { origin, size: BigInt(sizeText), root, extensions: lines.slice(3, -1) };
}

async function ed25519Verify(key, sig, msg) {
  if (sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
  } catch {
    return false;
  }
}

// cosignatureMessage is what a cosignature/v1 signs
// (c2sp.org/tlog-cosignature): "cosignature/v1", "time <t>", then the whole
// checkpoint text.
function cosignatureMessage(t, textBytes) {
  return concat(utf8.encode(`cosignature/v1\ntime ${t}\n`), textBytes);
}

// verifySignature checks one signature line of a note under key. For a
// cosignature it also returns the time the witness cosigned.
export async function verifySignature(key, note, s) {
  if (key.alg === ALG_ED25519) {
    return { ok: await ed25519Verify(key.cryptoKey, s.sig, note.textBytes) };
  }
  // c2sp.org/tlog-cosignature: timestamped_signature is a big-endian u64
  // of seconds, then the Ed25519 signature.
  if (s.sig.length !== 72) return { ok: false };
  const t = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
  const ok = await ed25519Verify(key.cryptoKey, s.sig.subarray(8), cosignatureMessage(t, note.textBytes));
  return { ok, time: new Date(Number(t) * 1000) };
}

const checkpointCache = new Map();

// checkCheckpoint verifies a signed checkpoint against the log's key and a
// witness policy {quorum, witnesses: [{name, key}]}. The result says what
// passed; ok only if the log's signature verifies, no cosignature by a
// policy witness is invalid, and at least quorum of them verify. Results
// are cached by input, so the items of one answer share one check.
export function checkCheckpoint(signed, logKeyText, policy) {
  const k = JSON.stringify([signed, logKeyText, policy]);
  let p = checkpointCache.get(k);
  if (!p) {
    p = checkCheckpointUncached(signed, logKeyText, policy);
    checkpointCache.set(k, p);
    if (checkpointCache.size > 64) checkpointCache.delete(checkpointCache.keys().next().value);
  }
  return p;
}

async function checkCheckpointUncached(signed, logKeyText, policy) {
  const r = { ok: false, problems: [], checkpoint: null, logSig: null, witnesses: [], quorum: policy?.quorum ?? 0, cosigned: 0, others: [] };
  let note;
  try {
    note = parseNote(signed);
    r.checkpoint = parseCheckpoint(note.text);
  } catch (e) {
    r.problems.push(`The checkpoint is malformed: ${e.message}.`);
    return r;
  }
  r.text = note.text;
  let logKey;
  try {
    logKey = await parseVerifierKey(logKeyText);
  } catch (e) {
    r.problems.push(`No usable log key: ${e.message}.`);
    return r;
  }
  if (logKey.alg !== ALG_ED25519) r.problems.push('The log key is not an Ed25519 note key.');
  // c2sp.org/tlog-checkpoint: the origin is the log's key name.
  if (r.checkpoint.origin !== logKey.name) r.problems.push(`The checkpoint's origin is not the log key's name (${logKey.name}).`);
  const used = new Set();
  const logSig = note.sigs.find((s) => s.name === logKey.name && s.id === logKey.id);
  r.logSig = { name: logKey.name, id: logKey.id, ok: false, present: !!logSig };
  if (logSig) {
    used.add(logSig);
    r.logSig.ok = (await verifySignature(logKey, note, logSig)).ok;
    if (!r.logSig.ok) r.problems.push("The log's signature on the checkpoint does not verify.");
  } else {
    r.problems.push('The checkpoint has no signature by the log key.');
  }
  for (const w of policy?.witnesses ?? []) {
    const row = { label: w.name, name: '', id: '', status: 'missing' };
    r.witnesses.push(row);
    let key;
    try {
      key = await parseVerifierKey(w.key);
    } catch (e) {
      row.status = 'bad-key';
      row.detail = e.message;
      continue;
    }
    row.name = key.name;
    row.id = key.id;
    const s = note.sigs.find((x) => x.name === key.name && x.id === key.id);
    if (!s) continue;
    used.add(s);
    const v = await verifySignature(key, note, s);
    row.status = v.ok ? 'verified' : 'invalid';
    row.time = v.time;
    if (v.ok) r.cosigned++;
    else r.problems.push(`The cosignature of witness ${w.name} does not verify.`);
  }
  for (const s of note.sigs) if (!used.has(s)) r.others.push({ name: s.name, id: s.id });
  if (r.cosigned < r.quorum) r.problems.push(`Only ${r.cosigned} of the ${r.quorum} witness cosignatures the policy needs verify.`);
  r.ok = r.problems.length === 0;
  return r;
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

// leafHash is the RFC 6962 leaf hash: SHA-256(0x00 || entry).
export function leafHash(entry) {
  return sha256(concat(LEAF, entry));
}

// verifyInclusion checks an RFC 6962 inclusion proof (as RFC 9162 section
// 2.1.3.2 gives the algorithm) of the entry at index in the tree of size
// whose root is root. It returns {ok, leaf, computed}.
export async function verifyInclusion(entry, index, size, path, root) {
  const leaf = await leafHash(entry);
  const out = { ok: false, leaf, computed: null };
  if (index >= size) return { ...out, reason: 'the index is not in the tree' };
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (p.length !== 32) return { ...out, reason: 'a proof hash is not 32 bytes' };
    if (sn === 0n) return { ...out, reason: 'the proof is too long' };
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(concat(NODE, p, r));
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      }
    } else {
      r = await sha256(concat(NODE, r, p));
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  out.computed = r;
  if (sn !== 0n) return { ...out, reason: 'the proof is too short' };
  if (!equalBytes(r, root)) return { ...out, reason: "the proof does not lead to the checkpoint's root hash" };
  out.ok = true;
  return out;
}
