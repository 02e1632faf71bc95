// The Evident explorer: search, releases, proofs and the log, verified in
// the browser. Routes live in the URL fragment (#/release/<purl>, ...), so
// the server serves one page and the node's own paths stay its own.

import { APIError, getDocument, getEvidence, getJSON, queryAll, queryPages } from './api.js';
import { growthChart } from './chart.js';
import { renderDocument } from './doc.js';
import { append, formatBytes, formatTime, h, mark, replace, route, shortID, table } from './dom.js';
import { parseEntry, purlParts } from './entry.js';
import { b64decode, checkCheckpoint, fromHex, hex, sha256, verifyInclusion } from './verify.js';

const main = document.getElementById('main');
let info = null; // GET /api/v1/log
let renderToken = 0;

// ---------------------------------------------------------------------------
// Keys: the log key the pages verify with.

function pinnedKey(origin) {
  try {
    return localStorage.getItem('evident.logKey:' + origin) || '';
  } catch {
    return '';
  }
}

function setPinnedKey(origin, key) {
  try {
    if (key) localStorage.setItem('evident.logKey:' + origin, key);
    else localStorage.removeItem('evident.logKey:' + origin);
  } catch {
    // storage disabled: nothing is pinned
  }
}

// logKey returns the key to verify checkpoints with: the one the person
// pinned for this origin, else the one the node serves. A pinned key that
// differs from the served one is a problem to show, not to ignore.
function logKey() {
  const pinned = pinnedKey(info?.origin ?? '');
  if (pinned) return { key: pinned, pinned: true, mismatch: !!info?.logKey && info.logKey !== pinned };
  return { key: info?.logKey ?? '', pinned: false, mismatch: false };
}

async function loadInfo() {
  info = await getJSON('/api/v1/log');
  const badge = document.getElementById('mode');
  if (badge) replace(badge, info.mode === 'mirror' ? 'mirror (read-only)' : '');
  return info;
}

// ---------------------------------------------------------------------------
// Verification of an answer: its checkpoint, then each item's inclusion.

async function verifyCheckpoint(signed) {
  const k = logKey();
  const r = await checkCheckpoint(signed, k.key, info.policy);
  if (!k.mismatch) return r;
  return { ...r, ok: false, problems: ['The node serves a log key other than the one you pinned on the Keys page.', ...r.problems] };
}

// verifyItem checks one Evidence's inclusion proof against a verified
// checkpoint result cp.
async function verifyItem(ev, cp) {
  const proof = ev.inclusionProof ?? {};
  let entry;
  try {
    entry = b64decode(ev.entry ?? '');
  } catch {
    return { ok: false, reason: 'the entry is not base64' };
  }
  if (!cp.checkpoint) return { ok: false, reason: 'no readable checkpoint', entry };
  // protobuf JSON writes 64-bit integers as decimal strings, and leaves
  // out zeros.
  const num = (v) => (/^(0|[1-9][0-9]{0,19})$/.test(String(v ?? '0')) ? BigInt(v ?? '0') : null);
  const index = num(proof.logIndex);
  const size = num(proof.treeSize);
  if (index === null || size === null) return { ok: false, reason: 'the proof is malformed', entry };
  if (index !== num(ev.logIndex)) return { ok: false, reason: "the proof is for another entry's index", entry };
  if (size !== cp.checkpoint.size) return { ok: false, reason: 'the proof is for a tree of another size than the checkpoint', entry };
  let path;
  try {
    path = (proof.hashes ?? []).map(b64decode);
  } catch {
    return { ok: false, reason: 'a proof hash is not base64', entry };
  }
  const r = await verifyInclusion(entry, index, size, path, cp.checkpoint.root);
  return { ...r, entry, path, index, size };
}

// verifyPage verifies one answer's checkpoint and items; results[i] is
// items[i]'s.
async function verifyPage(signed, items) {
  const cp = await verifyCheckpoint(signed);
  const results = await Promise.all(items.map((ev) => verifyItem(ev, cp)));
  return { cp, results };
}

// ---------------------------------------------------------------------------
// Pieces of pages.

// evidenceStatus returns "current", "superseded" or "withdrawn" for an
// item whose node marks its lifecycle, or null. The node's Evidence gains a
// status enum with issue 14; protobuf JSON writes it as its value's name
// (e.g. "EVIDENCE_STATUS_SUPERSEDED"), and omits it when unset, so nodes
// without it show nothing here.
export function evidenceStatus(ev) {
  const v = ev?.status;
  if (typeof v !== 'string') return null;
  const m = /(CURRENT|SUPERSEDED|WITHDRAWN)$/.exec(v.toUpperCase());
  return m ? m[1].toLowerCase() : null;
}

// releaseSupport returns the section that shows a release's VEX statuses
// and support period, or null while the node answers neither. Issue 14
// adds them to the API (the VEX status and support period RPCs): fetch
// them here and build the table; the release page places the section.
async function releaseSupport(_purl) {
  return null;
}

const kindOrder = ['sbom', 'vex', 'advisory', 'provenance', 'support-period', 'security-policy', 'cvd-policy',
  'vulnerability-handling', 'scorecard', 'security-insights', 'osps-baseline', 'steward-attestation',
  'eu-declaration-of-conformity', 'other'];

const kindNames = {
  sbom: 'SBOMs', vex: 'VEX', advisory: 'Advisories', provenance: 'Provenance', 'support-period': 'Support period',
  'security-policy': 'Security policy', 'cvd-policy': 'Vulnerability disclosure policy',
  'vulnerability-handling': 'Vulnerability handling', scorecard: 'Scorecard', 'security-insights': 'Security Insights',
  'osps-baseline': 'OSPS Baseline', 'steward-attestation': 'Steward attestation',
  'eu-declaration-of-conformity': 'EU declaration of conformity', other: 'Other evidence',
};

function kindName(k) {
  return kindNames[k] ?? k;
}

// fileName makes a download's file name from free text: letters, digits
// and ._- only, with an extension for the media type.
function fileName(name, digestHex, mediaType) {
  const base = String(name).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 80) || 'document';
  const mt = String(mediaType).toLowerCase();
  const ext = /json/.test(mt) ? '.json' : /xml/.test(mt) ? '.xml' : /markdown/.test(mt) ? '.md' : /yaml/.test(mt) ? '.yaml' : /^text\//.test(mt) ? '.txt' : '';
  const stem = base.endsWith(ext) ? base.slice(0, base.length - ext.length) : base;
  return `${stem}-${digestHex.slice(0, 12)}${ext}`;
}

const documents = new Map(); // digest hex -> Promise<{bytes, mediaType}>, checked

// fetchDocument gets a document and checks its SHA-256 against the entry's
// document line before anything is shown or saved.
function fetchDocument(e) {
  let p = documents.get(e.document.hex);
  if (!p) {
    p = (async () => {
      const d = await getDocument(fromHex(e.document.hex));
      const got = hex(await sha256(d.bytes));
      if (got !== e.document.hex) {
        throw new APIError('data-loss', `the node sent a document whose SHA-256 is ${got}, not the ${e.document.hex} the log entry names`);
      }
      return d;
    })();
    documents.set(e.document.hex, p);
    p.catch(() => documents.delete(e.document.hex));
  }
  return p;
}

function factList(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

function signerView(id) {
  return h('code', { class: 'id', title: id }, shortID(id, 40));
}

function subjectLinks(e) {
  const max = 6;
  const items = e.subjects.slice(0, max).map((s) => {
    const { version } = purlParts(s.purl);
    return h('li', null, h('a', { href: version ? route('release', s.purl) : route('search', s.purl) }, s.purl), version ? '' : ' (every release)');
  });
  if (e.subjects.length > max) items.push(h('li', null, `and ${e.subjects.length - max} more`));
  return h('ul', { class: 'subjects' }, items);
}

function statusMark(ev) {
  const st = evidenceStatus(ev);
  if (!st) return null;
  const cls = { current: 'ok', superseded: 'warn', withdrawn: 'fail' }[st];
  return h('span', { class: `status status-${cls}` }, st);
}

function itemVerifyMark(r) {
  if (!r) return mark('wait', 'checking proof\u2026');
  return r.ok ? mark('ok', 'in the log') : mark('fail', `proof fails: ${r.reason}`);
}

// proofDetails shows an item's inclusion proof and the checkpoint.
function proofDetails(ev, r, cp, signed) {
  const idx = ev.inclusionProof?.logIndex ?? '0';
  const size = ev.inclusionProof?.treeSize ?? '0';
  return h('div', { class: 'proof' },
    verdict(cp, r ? [r] : []),
    h('h4', null, 'Inclusion proof (RFC 6962)'),
    factList([
      ['Entry', `#${idx} of a tree of ${size} entries`],
      ['Leaf hash (computed here)', r?.leaf ? h('code', { class: 'hash' }, hex(r.leaf)) : '\u2013'],
      ['Root computed from the proof', r?.computed ? h('code', { class: 'hash' }, hex(r.computed)) : '\u2013'],
      ["Checkpoint's root hash", cp.checkpoint ? h('code', { class: 'hash' }, hex(cp.checkpoint.root)) : '\u2013'],
    ]),
    h('details', null, h('summary', null, `Audit path (${(r?.path ?? []).length} hashes)`),
      h('ol', { class: 'hashes' }, (r?.path ?? []).map((p) => h('li', null, h('code', { class: 'hash' }, hex(p)))))),
    checkpointView(cp, signed));
}

// verdict is the one line that says whether the browser verified it.
function verdict(cp, itemResults) {
  const bad = itemResults.filter((r) => !r.ok);
  if (cp.ok && bad.length === 0) return verifiedLine();
  const problems = [...cp.problems, ...bad.slice(0, 3).map((r) => `An inclusion proof fails: ${r.reason}.`)];
  if (bad.length > 3) problems.push(`${bad.length - 3} more inclusion proofs fail.`);
  return failBox(problems);
}

function verifiedLine(...more) {
  return h('p', { class: 'verdict verdict-ok', role: 'status' }, mark('ok', 'Verified in your browser'), ...more);
}

function failBox(problems) {
  return h('div', { class: 'verdict verdict-fail', role: 'alert' },
    h('p', null, mark('fail', 'Verification failed in your browser')),
    h('ul', null, problems.map((p) => h('li', null, p))));
}

// checkpointView shows a checkpoint and its signatures against the policy.
function checkpointView(cp, signed, withHeading = true) {
  const k = logKey();
  const rows = cp.witnesses.map((w) => {
    const st = { verified: mark('ok', 'cosignature verified'), invalid: mark('fail', 'cosignature does not verify'), missing: mark('none', 'no cosignature'), 'bad-key': mark('fail', `unusable key: ${w.detail}`) }[w.status];
    return [w.label, h('code', null, `${w.name} ${w.id}`), st, w.time ? formatTime(w.time.toISOString()) : ''];
  });
  return h('section', { class: 'checkpoint', 'aria-label': 'Checkpoint' },
    withHeading ? h('h4', null, 'Checkpoint') : null,
    cp.checkpoint ? factList([
      ['Log', cp.checkpoint.origin],
      ['Tree size', cp.checkpoint.size.toLocaleString('en')],
      ['Root hash', h('code', { class: 'hash' }, hex(cp.checkpoint.root))],
      ["Log's signature", cp.logSig?.ok ? mark('ok', `verified with ${k.pinned ? 'your pinned key' : "the node's key"} ${cp.logSig.name} ${cp.logSig.id}`) : mark('fail', 'not verified')],
      ['Witness policy', `${info.policy.quorum} of ${info.policy.witnesses.length} witnesses (${info.policy.rule})`],
    ]) : null,
    rows.length ? table(`Witness cosignatures: ${cp.cosigned} verified, ${cp.quorum} needed`, ['Witness', 'Key', 'Cosignature', 'Cosigned at'], rows)
      : h('p', { class: 'note' }, 'The node has no witnesses in its policy.'),
    cp.others.length ? h('p', { class: 'note' }, `Also signed by keys outside the policy, not checked: ${cp.others.map((o) => `${o.name} ${o.id}`).join(', ')}.`) : null,
    h('details', null, h('summary', null, 'The signed checkpoint'), h('pre', { class: 'note-text', tabindex: '0' }, signed)));
}

// itemCard shows one evidence item; r is its verification (or null while
// it runs), cp the checkpoint's.
function itemCard(ev, ctx, open = false) {
  let e = null;
  let err = null;
  try {
    e = parseEntry(b64decode(ev.entry ?? ''));
  } catch (x) {
    err = x.message;
  }
  const idx = ev.logIndex ?? '0';
  const verifyEl = h('span', { class: 'item-verify' }, itemVerifyMark(null));
  const card = h('article', { class: 'item', 'aria-label': e?.name ? `Evidence: ${e.name}` : `Entry ${idx}` });
  const status = h('p', { class: 'item-msg', role: 'status', 'aria-live': 'polite' });
  if (!e || e.version !== 2) {
    append(card, h('h3', null, `Entry #${idx}`), verifyEl,
      h('p', { class: 'note' }, err ? `This entry could not be read: ${err}.` : `This entry has a format this page does not know (${e.firstLine}).`));
    return { card, setResult: (r) => replace(verifyEl, itemVerifyMark(r)) };
  }
  const docPanel = h('div', { class: 'doc-panel' });
  const proofPanel = h('div', { class: 'proof-panel' });
  let result = null;
  const docDetails = h('details', { class: 'panel', ontoggle: (x) => x.target.open && showDocument() },
    h('summary', null, 'Document'), docPanel);
  const proofDetailsEl = h('details', { class: 'panel', ontoggle: (x) => x.target.open && showProof() },
    h('summary', null, 'Proof'), proofPanel);
  async function showDocument() {
    if (docPanel.childNodes.length) return;
    if (!info.features.documents) {
      replace(docPanel, h('p', { class: 'note' }, 'Documents are not available here (this server does not hold them).'));
      return;
    }
    replace(docPanel, h('p', { class: 'note' }, 'Fetching the document\u2026'));
    try {
      const d = await fetchDocument(e);
      replace(docPanel, h('p', null, mark('ok', `SHA-256 checked in your browser: it is the document the log entry names (${formatBytes(d.bytes.length)}, ${e.document.mediaType}).`)),
        renderDocument(d.bytes, e.document.mediaType));
    } catch (x) {
      replace(docPanel, h('p', { class: 'error', role: 'alert' }, `Couldn't show the document: ${x.message}`));
    }
  }
  function showProof() {
    if (result) replace(proofPanel, proofDetails(ev, result, ctx.cp, ctx.signed));
    else replace(proofPanel, h('p', { class: 'note' }, 'Checking\u2026'));
  }
  async function download() {
    if (!info.features.documents) {
      replace(status, 'Documents are not available here (this server does not hold them).');
      return;
    }
    replace(status, 'Fetching and checking the document\u2026');
    try {
      const d = await fetchDocument(e);
      const url = URL.createObjectURL(new Blob([d.bytes], { type: 'application/octet-stream' }));
      const a = h('a', { href: url, download: fileName(e.name, e.document.hex, e.document.mediaType), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      replace(status, mark('ok', `Downloaded; its SHA-256 matches the log entry: ${e.document.digest}`));
    } catch (x) {
      replace(status, h('span', { class: 'error' }, `Couldn't download the document: ${x.message}`));
    }
  }
  const labels = [h('span', { class: 'kind' }, e.kind), statusMark(ev), ev.packageLevel ? h('span', { class: 'tag' }, 'for every release') : null];
  append(card,
    h('header', null,
      h('h3', null, e.name || '(no name)'),
      h('div', { class: 'labels' }, labels)),
    factList([
      ['Format', e.format],
      ['Signed by', h('span', null, e.signers.map((s, i) => [i ? ', ' : '', signerView(s)]))],
      ['Logged', `${formatTime(e.time)} by ${ctx.origin}`],
      ['Log index', h('a', { href: route('entry', idx) }, `#${idx}`)],
      ['Document', h('span', null, h('code', { class: 'id', title: e.document.digest }, shortID(e.document.digest, 23)), ` ${formatBytes(e.document.size)}, ${e.document.mediaType}`)],
      ctx.showSubjects ? ['About', subjectLinks(e)] : null,
    ]),
    h('div', { class: 'item-foot' },
      verifyEl,
      h('button', { type: 'button', onclick: download, 'aria-label': `Download ${e.name || 'the document'}` }, 'Download')),
    status, docDetails, proofDetailsEl);
  if (open) {
    docDetails.open = true;
    proofDetailsEl.open = true;
  }
  return {
    card,
    entry: e,
    setResult(r) {
      result = r;
      replace(verifyEl, itemVerifyMark(r));
      if (proofDetailsEl.open) showProof();
    },
  };
}

function heading(text) {
  const el = h('h1', { tabindex: '-1' }, text);
  return el;
}

function setPage(title, ...children) {
  document.title = `${title} \u2013 Evident`;
  replace(main, ...children);
  const h1 = main.querySelector('h1');
  if (h1 && document.activeElement !== document.getElementById('q')) h1.focus({ preventScroll: true });
}

function errorBox(x) {
  return h('div', { class: 'error', role: 'alert' }, h('p', null, mark('fail', x.message)));
}

function unavailable(what) {
  return h('p', { class: 'unavailable' }, mark('none', `Not available on this ${info.mode}: ${what}.`));
}

// painted resolves after the browser has rendered what is on the page.
function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

// renderItems shows the items of answers (an array or an async iterator of
// QueryEvidence pages) as they come, grouped by kind if asked, verifies
// each page's checkpoint and items in the browser, and keeps a summary.
// The page marks "evident-usable" once the first page is verified and
// painted, and "evident-verified" once every page is.
async function renderItems(target, pages, opts) {
  const summary = h('section', { class: 'summary', 'aria-label': 'Verification' }, h('p', null, mark('wait', 'Loading and verifying in your browser\u2026')));
  const nav = h('ul');
  const list = h('div', { class: opts.group ? 'groups' : 'items' });
  append(target, summary);
  if (opts.group) append(target, h('nav', { class: 'kinds', 'aria-label': 'Kinds of evidence' }, nav));
  append(target, list);
  const groups = new Map(); // kind -> {section, items, count, link, n}
  const rank = (k) => (kindOrder.indexOf(k) + 1 || 99);
  function groupOf(k) {
    let g = groups.get(k);
    if (g) return g;
    const count = h('span', { class: 'count' });
    const link = h('a', { href: `#kind-${k}`, onclick: (x) => { x.preventDefault(); document.getElementById(`kind-${k}`)?.scrollIntoView(); } });
    g = { n: 0, count, link, items: h('div', { class: 'items' }) };
    g.section = h('section', { class: 'kind-group', id: `kind-${k}`, 'aria-label': kindName(k) }, h('h2', null, `${kindName(k)} `, count), g.items);
    g.li = h('li', null, link);
    g.kind = k;
    const after = [...groups.values()].filter((o) => rank(o.kind) > rank(k) || (rank(o.kind) === rank(k) && o.kind > k))
      .sort((a, b) => rank(a.kind) - rank(b.kind) || a.kind.localeCompare(b.kind))[0];
    list.insertBefore(g.section, after?.section ?? null);
    nav.insertBefore(g.li, after?.li ?? null);
    groups.set(k, g);
    return g;
  }
  let n = 0;
  let failed = 0;
  let first = true;
  let cp0 = null;
  let firstSigned = '';
  const problems = new Set();
  const cps = [];
  try {
    for await (const p of pages) {
      const evs = p.evidence ?? [];
      const ctx = { cp: null, signed: p.checkpoint ?? '', origin: info.origin, showSubjects: opts.showSubjects };
      const views = evs.map((ev) => itemCard(ev, ctx));
      for (const v of views) {
        if (opts.group) {
          const g = groupOf(v.entry?.kind ?? 'other');
          g.items.append(v.card);
          g.n++;
          replace(g.count, `(${g.n})`);
          replace(g.link, `${kindName(g.kind)} (${g.n})`);
        } else {
          list.append(v.card);
        }
      }
      n += evs.length;
      if (first) performance.mark('evident-listed');
      const { cp, results } = await verifyPage(ctx.signed, evs);
      ctx.cp = cp;
      cps.push(cp);
      if (!cp0) {
        cp0 = cp;
        firstSigned = ctx.signed;
      }
      for (const x of cp.problems) problems.add(x);
      results.forEach((r, i) => {
        views[i].setResult(r);
        if (!r.ok) failed++;
      });
      if (first) {
        first = false;
        // Usable once the browser has painted the verified first page.
        await painted();
        performance.mark('evident-usable');
      }
      replace(summary, h('p', null, mark('wait', `Verified ${n - failed} of ${n} items so far; loading more\u2026`)));
    }
  } catch (x) {
    problems.add(`Not every item could be loaded: ${x.message}`);
  }
  if (n === 0 && problems.size === 0) {
    replace(summary, h('p', null, opts.empty));
    performance.mark('evident-verified');
    return;
  }
  const allOK = problems.size === 0 && failed === 0 && cps.every((c) => c.ok);
  const pr = [...problems];
  if (failed) pr.push(`The inclusion proofs of ${failed} of the ${n} items fail; they are marked below.`);
  replace(summary,
    allOK
      ? verifiedLine(`: ${n === 1 ? 'the item is' : `all ${n} items are`} in the log ${cp0.checkpoint.origin} at a checkpoint of ${cp0.checkpoint.size.toLocaleString('en')} entries, signed by the log${cp0.quorum ? ` and cosigned by ${cp0.cosigned} of the ${cp0.quorum} witnesses its policy needs` : ' (its policy needs no witness cosignatures)'}.`)
      : failBox(pr),
    cp0 ? h('details', { open: !allOK }, h('summary', null, 'Checkpoint and witnesses'), checkpointView(cp0, firstSigned)) : null);
  await painted();
  performance.mark('evident-verified');
}

// ---------------------------------------------------------------------------
// Pages.

function searchForm(q = '', by = 'auto') {
  const input = h('input', { id: 'q', name: 'q', type: 'search', value: q, autocomplete: 'off', spellcheck: 'false', placeholder: 'pkg:pypi/requests@2.32.3, sha256:\u2026 or a log index', 'aria-describedby': 'q-help' });
  const select = h('select', { id: 'by', name: 'by' },
    [['auto', 'Anything'], ['purl', 'Package URL'], ['artifact', 'Artifact digest'], ['document', 'Document digest'], ['index', 'Log index']]
      .map(([v, t]) => h('option', { value: v, selected: v === by }, t)));
  return h('form', { class: 'search', role: 'search', action: '/', method: 'get', onsubmit: (x) => {
    x.preventDefault();
    const v = input.value.trim();
    if (v) location.hash = route('search', v) + (select.value !== 'auto' ? `?by=${select.value}` : '');
  } },
  h('div', { class: 'field' }, h('label', { for: 'q' }, 'Search the log'), input),
  h('div', { class: 'field field-by' }, h('label', { for: 'by' }, 'Look for'), select),
  h('button', { type: 'submit' }, 'Search'),
  h('p', { id: 'q-help', class: 'help' }, 'A release (pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1), a package (pkg:pypi/requests), an artifact or document digest (sha256:\u2026), or a log index (42).'));
}

// classify tells what a search is for.
function classify(q, by) {
  if (by === 'index' || (by === 'auto' && /^\d+$/.test(q))) return /^\d+$/.test(q) ? { type: 'index' } : { type: 'bad', why: 'A log index is a whole number.' };
  if (by === 'artifact' || by === 'document') {
    if (!/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(q.toLowerCase())) return { type: 'bad', why: 'A digest is sha256: and 64 hex digits (or sha512: and 128).' };
    return { type: by };
  }
  if (/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/i.test(q)) return { type: 'digest' };
  if (/^pkg:/i.test(q)) return { type: purlParts(q).version ? 'release' : 'package' };
  if (by === 'purl') return { type: 'bad', why: 'A Package URL starts with pkg:, e.g. pkg:npm/left-pad@1.3.0.' };
  return { type: 'bad', why: 'Type a Package URL (pkg:\u2026), a digest (sha256:\u2026) or a log index.' };
}

async function searchPage(token, q, by) {
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  setPage(q ? `Search: ${q}` : 'Search',
    heading('Find evidence'),
    h('p', { class: 'lead' }, 'Search what this node has logged about a release, a package, an artifact or a document. Every answer comes with proofs that this page checks in your browser.'),
    searchForm(q, by), results);
  if (!q) {
    document.getElementById('q')?.focus();
    return;
  }
  const c = classify(q, by);
  if (c.type === 'bad') {
    replace(results, h('p', { class: 'error', role: 'alert' }, c.why));
    return;
  }
  if (c.type === 'release') {
    location.replace(route('release', q));
    return;
  }
  if (c.type === 'index') {
    location.replace(route('entry', q));
    return;
  }
  if (!info.features.query) {
    replace(results, unavailable('search by Package URL or digest'));
    return;
  }
  replace(results, h('p', null, mark('wait', 'Searching\u2026')));
  try {
    if (c.type === 'package') {
      const { pages, more } = await queryAll({ packagePurl: q }, 2000);
      if (token !== renderToken) return;
      replace(results, packageResults(q, pages, more));
      return;
    }
    const lower = q.toLowerCase();
    const queries = [];
    if (c.type === 'digest' || c.type === 'artifact') queries.push(['Artifacts with this digest', { artifactDigest: lower }]);
    if ((c.type === 'digest' || c.type === 'document') && lower.startsWith('sha256:')) queries.push(['Documents with this digest', { documentDigest: lower }]);
    const answers = await Promise.all(queries.map(([, qq]) => queryAll(qq, 500)));
    if (token !== renderToken) return;
    replace(results);
    for (let i = 0; i < queries.length; i++) {
      const sec = h('section', { class: 'result-group' }, h('h2', null, queries[i][0]));
      append(results, sec);
      await renderItems(sec, answers[i].pages, { showSubjects: true, empty: 'Nothing logged.' });
    }
  } catch (x) {
    if (token === renderToken) replace(results, errorBox(x));
  }
}

// packageResults lists the releases a package query found.
function packageResults(q, pages, more) {
  // The node compares canonical Package URLs; this page only knows what was
  // typed, so it compares loosely (case, "_" and "-") and, if nothing
  // matches, lists every release the answer names.
  const loose = (p) => p.toLowerCase().replace(/_/g, '-');
  const want = loose(purlParts(q).pkg);
  const all = new Map();
  const releases = new Map();
  let packageLevel = 0;
  let items = 0;
  for (const p of pages) {
    for (const ev of p.evidence ?? []) {
      items++;
      let e;
      try {
        e = parseEntry(b64decode(ev.entry ?? ''));
      } catch {
        continue;
      }
      if (e.version !== 2) continue;
      for (const s of e.subjects) {
        const { pkg, version } = purlParts(s.purl);
        if (!version) continue;
        all.set(s.purl, (all.get(s.purl) ?? 0) + 1);
        if (loose(pkg) === want) releases.set(s.purl, (releases.get(s.purl) ?? 0) + 1);
      }
      if (e.subjects.every((s) => !purlParts(s.purl).version)) packageLevel++;
    }
  }
  if (releases.size === 0) for (const [k, v] of all) releases.set(k, v);
  const list = [...releases.entries()].sort((a, b) => b[0].localeCompare(a[0], 'en', { numeric: true }));
  if (items === 0) return h('p', null, 'Nothing is logged about this package.');
  return h('section', { class: 'result-group' },
    h('h2', null, `Releases of ${q}`),
    h('ul', { class: 'releases' }, list.map(([purl, n]) => h('li', null, h('a', { href: route('release', purl) }, purl), ` \u2013 ${n} item${n === 1 ? '' : 's'}`))),
    packageLevel ? h('p', null, `${packageLevel} item${packageLevel === 1 ? '' : 's'} hold${packageLevel === 1 ? 's' : ''} for every release; each release page shows them.`) : null,
    more ? h('p', { class: 'note' }, 'Only the newest 2,000 items were read.') : null);
}

async function releasePage(token, purl, ready) {
  // The query goes out at once, beside /api/v1/log.
  const pages = queryPages({ releasePurl: purl }, 2000, () => token === renderToken, (more) => {
    if (more) append(body, h('p', { class: 'note' }, 'Showing the newest 2,000 items.'));
  });
  try {
    await ready;
  } catch (x) {
    return unreachable(x);
  }
  if (token !== renderToken) return;
  const body = h('div', { class: 'release' });
  setPage(`Release ${purl}`,
    h('p', { class: 'crumbs' }, h('a', { href: route('search', purlParts(purl).pkg) }, 'All releases of this package')),
    heading('Release'),
    h('p', { class: 'purl' }, h('code', null, purl)),
    body);
  if (!info.features.query) {
    append(body, unavailable('search by Package URL'));
    return;
  }
  const support = await releaseSupport(purl);
  if (token !== renderToken) return;
  if (support) append(body, support);
  await renderItems(body, pages, { group: true, empty: 'Nothing is logged about this release.' });
}

async function entryPage(token, index) {
  const body = h('div');
  setPage(`Entry ${index}`, heading(`Log entry #${index}`), body);
  if (!info.features.evidence) {
    append(body, unavailable('reading entries and their proofs'));
    return;
  }
  append(body, h('p', null, mark('wait', 'Loading\u2026')));
  let res;
  try {
    res = await getEvidence({ logIndex: index });
  } catch (x) {
    if (token === renderToken) replace(body, errorBox(x));
    return;
  }
  if (token !== renderToken) return;
  replace(body);
  const ctx = { cp: null, signed: res.checkpoint ?? '', origin: info.origin, showSubjects: true };
  const view = itemCard(res.evidence ?? {}, ctx, true);
  const summary = h('section', { class: 'summary' }, mark('wait', 'Verifying in your browser\u2026'));
  append(body, summary, view.card);
  const { cp, results } = await verifyPage(ctx.signed, [res.evidence ?? {}]);
  ctx.cp = cp;
  view.setResult(results[0]);
  replace(summary, verdict(cp, results));
}

async function logPage(token) {
  const cpSec = h('section', { 'aria-labelledby': 'cp-h' }, h('h2', { id: 'cp-h' }, 'Checkpoint'));
  const growthSec = h('section', { 'aria-labelledby': 'growth-h' }, h('h2', { id: 'growth-h' }, 'Growth'));
  const peersSec = h('section', { 'aria-labelledby': 'peers-h' }, h('h2', { id: 'peers-h' }, 'Peers'));
  const misSec = h('section', { 'aria-labelledby': 'mis-h' }, h('h2', { id: 'mis-h' }, 'Misbehaviour alerts'));
  setPage('Log', heading('The log'), cpSec, growthSec, peersSec, misSec);
  try {
    await loadInfo();
  } catch (x) {
    append(cpSec, errorBox(x));
    return;
  }
  if (token !== renderToken) return;
  const cp = await verifyCheckpoint(info.checkpoint);
  append(cpSec, factList([
    ['Served by', info.mode === 'mirror' ? 'a mirror of the log (read-only)' : 'the log\u2019s node'],
    ['Entries', Number(info.size).toLocaleString('en')],
  ]), verdict(cp, []), checkpointView(cp, info.checkpoint, false));
  getJSON('/api/v1/growth').then((g) => {
    if (token === renderToken) append(growthSec, growthChart(g.points ?? []));
  }, (x) => append(growthSec, errorBox(x)));
  if (!info.features.peers) {
    append(peersSec, unavailable('the peers and the sizes they cosigned'));
  } else if (info.peers.length === 0) {
    append(peersSec, h('p', null, 'This node has no peers.'));
  } else {
    append(peersSec, info.peersError ? h('p', { class: 'error' }, info.peersError) : null,
      table('Each peer witnesses this log, and this node witnesses theirs.',
        ['Peer', 'Its log', 'Cosigned this log at size', 'We cosigned its log at size'],
        info.peers.map((p) => [
          h('span', null, p.name, h('br'), h('span', { class: 'url' }, p.url)),
          p.origin,
          p.cosignedSize == null ? 'not known yet' : Number(p.cosignedSize).toLocaleString('en'),
          p.witnessedSize == null ? 'none yet' : Number(p.witnessedSize).toLocaleString('en'),
        ])));
  }
  if (!info.features.misbehaviour) {
    append(misSec, unavailable('misbehaviour alerts (the node keeps them)'));
    return;
  }
  try {
    const m = await getJSON('/api/v1/misbehaviour');
    if (token !== renderToken) return;
    if (!m.alerts.length) {
      append(misSec, h('p', null, mark('ok', 'No misbehaviour seen: no log this node knows has shown two histories.')));
      return;
    }
    append(misSec, h('ul', { class: 'alerts' }, m.alerts.map((a, i) => h('li', { class: 'alert', role: 'alert' },
      h('p', null, mark('fail', `${a.origin}: ${a.reason === 'fork' ? 'signed two different trees of the same size' : 'signed a tree that does not extend one it signed before'} (sizes ${a.sizeA} and ${a.sizeB}).`)),
      h('button', { type: 'button', onclick: () => saveText(a.proof, `misbehaviour-${i + 1}.txt`) }, 'Download the proof'),
      h('p', { class: 'note' }, 'Anyone can check the proof offline with the log\u2019s public key: evident verify-misbehaviour FILE.')))));
  } catch (x) {
    append(misSec, errorBox(x));
  }
}

function saveText(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/octet-stream' }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function keysPage() {
  const k = logKey();
  const input = h('textarea', { id: 'pin', rows: '2', spellcheck: 'false', 'aria-describedby': 'pin-help' }, pinnedKey(info.origin));
  const msg = h('p', { role: 'status', 'aria-live': 'polite' });
  setPage('Keys', heading('Keys'),
    h('p', { class: 'lead' }, 'This page checks every checkpoint with the log\u2019s public key. By default it uses the key this server gives it, which shows that nothing between you and the node changed the answers. To also catch the node itself changing its key, pin the key you got from the foundation another way.'),
    factList([
      ['Log', info.origin],
      ['Key served by the node', info.logKey ? h('code', { class: 'hash' }, info.logKey) : 'none'],
      ['Used for checking', k.pinned ? (k.mismatch ? mark('fail', 'your pinned key, which differs from the served one') : mark('ok', 'your pinned key')) : 'the served key (not pinned)'],
    ]),
    h('form', { class: 'pin', onsubmit: (x) => {
      x.preventDefault();
      setPinnedKey(info.origin, input.value.trim());
      replace(msg, input.value.trim() ? 'Pinned. Every page now checks with this key.' : 'Unpinned.');
    } },
    h('label', { for: 'pin' }, `Pinned key for ${info.origin}`), input,
    h('p', { id: 'pin-help', class: 'help' }, 'A c2sp.org/signed-note verifier key: origin+hash+key, as evidentd prints it at start. Kept in this browser only. Empty unpins.'),
    h('button', { type: 'submit' }, 'Save')), msg,
    h('h2', null, 'Witness policy'),
    h('p', null, `A checkpoint must carry valid cosignatures of ${info.policy.quorum} of these ${info.policy.witnesses.length} witnesses (${info.policy.rule}).`),
    h('ul', null, info.policy.witnesses.map((w) => h('li', null, w.name, ': ', h('code', { class: 'hash' }, w.key)))));
}

function checkPage() {
  setPage('SBOM check', heading('SBOM check'),
    h('div', { class: 'unavailable-box', role: 'note' },
      h('p', null, h('strong', null, 'Not available yet.')),
      h('p', null, 'Checking a product\u2019s SBOM against the log (the manufacturer due-diligence report, with an HTML report and an evidence pack to download) needs the node\u2019s batch query and the evident check command, which this node does not have yet. Nothing on this page checks anything.')));
}

function unreachable(x) {
  setPage('Unavailable', heading('The node does not answer'), errorBox(x));
}

async function render() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // an anchor within the page
  const token = ++renderToken;
  const [path, query] = hash.slice(2).split('?');
  const params = new URLSearchParams(query ?? '');
  const [page, ...rest] = (path ?? '').split('/');
  let parts;
  try {
    parts = rest.map(decodeURIComponent);
  } catch {
    parts = [];
  }
  for (const a of document.querySelectorAll('header nav a')) {
    const here = a.getAttribute('href') === `#/${page}` || (a.getAttribute('href') === '#/' && ['', 'search', 'release', 'entry'].includes(page));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const ready = info ? Promise.resolve(info) : loadInfo();
  if (page === 'release') return releasePage(token, parts.join('/'), ready);
  try {
    await ready;
  } catch (x) {
    return unreachable(x);
  }
  switch (page) {
    case '':
    case 'search':
      return searchPage(token, parts.join('/'), params.get('by') ?? 'auto');
    case 'entry':
      return /^\d+$/.test(parts[0] ?? '') ? entryPage(token, parts[0]) : setPage('Not found', heading('No such entry'));
    case 'log':
      return logPage(token);
    case 'keys':
      return keysPage();
    case 'check':
      return checkPage();
    default:
      setPage('Not found', heading('No such page'), h('p', null, h('a', { href: '#/' }, 'Search the log')));
  }
}

window.addEventListener('hashchange', render);
// A search form submitted without its script (GET /?q=...) lands here.
const sp = new URLSearchParams(location.search);
if (!location.hash && sp.get('q')) {
  history.replaceState(null, '', '/' + route('search', sp.get('q')) + (sp.get('by') && sp.get('by') !== 'auto' ? `?by=${encodeURIComponent(sp.get('by'))}` : ''));
}
render();
