// dynakv dashboard (plain browser JavaScript, no build step): draws the snapshots that
// /ui/events streams (see src/ui/snapshot.ts for their shape) and runs key lookups against
// /cluster/lookup/{key}. Everything is redrawn from state on each snapshot; the only state
// kept here is the latest snapshot, the focused node and the looked-up key.
// A secure node answers 401 without a credential: the page then asks for a token, keeps it in
// sessionStorage (this tab only; never in a URL or a cookie, so no other site's request can
// carry it) and sends it as Authorization. The stream is read with fetch(), since EventSource
// cannot send headers. Data (member ids, stored values) is only ever inserted as text.

const RADIUS = 200;
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = {
  /** The latest snapshot from the server. */
  snapshot: null,
  /** Node under the pointer, and node clicked (kept until clicked again). */
  hovered: null,
  selected: null,
  /** The looked-up key and its latest lookup answer. */
  key: null,
  lookup: null,
  lookupError: null,
  lookupInFlight: false,
};

const $ = (id) => document.getElementById(id);

// --- credentials --------------------------------------------------------------------------

const TOKEN_KEY = 'dynakv-token';

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/** fetch() with the token; a 401 shows the login form and throws. */
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) }, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401) {
    const body = await res.json().catch(() => ({}));
    showLogin(sessionStorage.getItem(TOKEN_KEY) === null ? '' : `token not accepted: ${body.error ?? '401'}`);
    throw new LoginNeeded();
  }
  return res;
}

class LoginNeeded extends Error {}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('login-error').textContent = message;
  $('login').hidden = false;
  $('main').hidden = true;
  $('logout').hidden = true;
  setConnection('login', 'sign in');
  $('token').focus();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token').value.trim();
  if (token === '') return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  startStream();
});

$('logout').addEventListener('click', () => {
  stream.abort?.abort();
  showLogin('');
});

// --- live updates -------------------------------------------------------------------------

/** How long to wait before reading the stream again after it broke. */
const RECONNECT_MS = 1_000;
const stream = { abort: null, generation: 0 };

function startStream() {
  stream.abort?.abort();
  const generation = ++stream.generation;
  const abort = new AbortController();
  stream.abort = abort;
  void readStream(generation, abort.signal);
}

/** Reads server-sent events from /ui/events until the stream breaks, then reconnects. */
async function readStream(generation, signal) {
  try {
    const res = await api('/ui/events', { signal, headers: { accept: 'text/event-stream' } });
    if (!res.ok || res.body === null) throw new Error(`stream answered ${res.status}`);
    if (sessionStorage.getItem(TOKEN_KEY) !== null) $('logout').hidden = false;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        onEvent(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
      }
    }
  } catch (err) {
    if (err instanceof LoginNeeded || signal.aborted) return;
  }
  if (generation !== stream.generation) return;
  setConnection('reconnecting', 'disconnected, reconnecting…');
  setTimeout(() => generation === stream.generation && startStream(), RECONNECT_MS);
}

function onEvent(text) {
  let event = 'message';
  const data = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (event !== 'snapshot' || data.length === 0) return;
  state.snapshot = JSON.parse(data.join('\n'));
  setConnection('live', 'live');
  render();
  if (state.key !== null) void refreshLookup();
}

function setConnection(kind, text) {
  const el = $('conn');
  el.dataset.state = kind;
  el.textContent = text;
}

// --- ring geometry ------------------------------------------------------------------------

/** A 128-bit hex position as a fraction of the ring (48 bits of precision are plenty on screen). */
function fraction(hex) {
  return parseInt(hex.slice(0, 12), 16) / 2 ** 48;
}

/** Position 0 at the top, clockwise. */
function point(f, r) {
  const a = f * 2 * Math.PI - Math.PI / 2;
  return [r * Math.cos(a), r * Math.sin(a)];
}

/** The clockwise arc from fraction f0 to f1 (wrapping past the top); equal ends: the whole ring. */
function arcPath(f0, f1, r) {
  let span = f1 - f0;
  if (span <= 0) span += 1;
  if (span >= 0.9999) {
    const [x0, y0] = point(f0, r);
    const [xm, ym] = point(f0 + 0.5, r);
    return `M ${x0} ${y0} A ${r} ${r} 0 1 1 ${xm} ${ym} A ${r} ${r} 0 1 1 ${x0} ${y0}`;
  }
  const [x0, y0] = point(f0, r);
  const [x1, y1] = point(f0 + span, r);
  return `M ${x0} ${y0} A ${r} ${r} 0 ${span > 0.5 ? 1 : 0} 1 ${x1} ${y1}`;
}

function svg(tag, attrs, children = []) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

// --- rendering ----------------------------------------------------------------------------

function render() {
  const snap = state.snapshot;
  if (snap === null) return;
  const up = snap.members.filter((m) => m.seen !== 'removed').length;
  $('view').textContent = `as seen by ${snap.self} · ${up} members · N=${snap.n} · ${new Date(snap.atMs).toLocaleTimeString()}`;
  renderRing(snap);
  renderNodes(snap);
  renderMembers(snap);
  renderLog(snap);
  renderLookup();
}

function focusId() {
  return state.hovered ?? state.selected;
}

function renderRing(snap) {
  const ring = $('ring');
  const focus = focusId();
  const ranges = snap.ring?.nodes ?? [];
  const focusRange = ranges.find((r) => r.id === focus);
  const keyReplicas = new Set(state.lookup?.preferenceList ?? []);
  const children = [svg('circle', { class: 'ring-base', r: RADIUS })];

  for (const range of ranges) {
    const member = snap.members.find((m) => m.id === range.id);
    children.push(svg('path', {
      class: `range${range.id === focus ? ' focus' : ''}`,
      d: arcPath(fraction(range.range.start), fraction(range.range.end), RADIUS),
      stroke: `var(--${member?.seen ?? 'removed'})`,
      'data-range': range.id,
    }));
  }

  if (state.lookup !== null) {
    const f = fraction(state.lookup.position);
    const [kx, ky] = point(f, RADIUS - 45);
    for (const id of state.lookup.preferenceList) {
      const m = snap.members.find((x) => x.id === id);
      if (m === undefined) continue;
      const [nx, ny] = point(fraction(m.position), RADIUS);
      children.push(svg('line', { class: 'key-line', x1: kx, y1: ky, x2: nx, y2: ny }));
    }
    const [tx, ty] = point(f, RADIUS);
    children.push(svg('line', { class: 'key-line', x1: kx, y1: ky, x2: tx, y2: ty }));
    children.push(svg('circle', { class: 'key-marker', cx: kx, cy: ky, r: 7, 'data-key-position': state.lookup.position }, [svg('title', {}, [`key ${state.lookup.key} at ${state.lookup.position}`])]));
  }

  for (const m of snap.members) {
    const [x, y] = point(fraction(m.position), RADIUS);
    const [lx, ly] = point(fraction(m.position), RADIUS + 34);
    const classes = ['ring-node'];
    if (focusRange?.replicas.includes(m.id)) classes.push('replica');
    if (keyReplicas.has(m.id)) classes.push('key-replica');
    const attrs = { class: classes.join(' '), 'data-node': m.id, 'data-status': m.seen, 'data-position': m.position };
    if (keyReplicas.has(m.id)) attrs['data-key-replica'] = 'true';
    children.push(svg('g', attrs, [
      svg('circle', { cx: x, cy: y, r: 13, fill: `var(--${m.seen})` }, [svg('title', {}, [`${m.id}: ${m.seen}, position ${m.position}`])]),
      svg('text', { x: lx, y: ly }, [m.id]),
    ]));
  }

  const center = focusRange !== undefined
    ? `${focusRange.id}'s range → ${focusRange.replicas.join(', ')}`
    : snap.ring === null ? 'no ring yet' : `${ranges.length} nodes in the ring`;
  children.push(svg('text', { class: 'center-label', x: 0, y: 5 }, [center]));
  ring.replaceChildren(...children);

  $('focus-info').textContent = focusRange !== undefined
    ? `${focusRange.id} is home for [${focusRange.range.start.slice(0, 8)}…, ${focusRange.range.end.slice(0, 8)}…); those keys live on ${focusRange.replicas.join(', ')}.`
    : 'Hover or click a node to see its home range and replica set.';
}

function renderNodes(snap) {
  const focus = focusId();
  const rows = snap.members.filter((m) => m.seen !== 'removed').map((m) => {
    const a = snap.activity[m.id];
    const tr = row([
      m.id,
      statusCell(m.seen),
      num(a?.keys),
      num(a?.hintsHeld),
      a ? syncText(a) : '—',
      num(a ? Math.round(a.opsPerSec * 10) / 10 : undefined),
      a ? sparkline(a.latencyMs) : '—',
    ]);
    tr.dataset.node = m.id;
    tr.dataset.activity = a ? 'shown' : 'unknown';
    if (a) tr.dataset.opsPerSec = String(a.opsPerSec);
    if (m.id === focus) tr.classList.add('focus');
    return tr;
  });
  $('nodes').tBodies[0].replaceChildren(...rows);
}

function renderMembers(snap) {
  const rows = snap.members.map((m) => row([
    m.id,
    statusCell(m.seen),
    m.status,
    String(m.version),
    m.peer,
    m.http || '—',
    m.lastHeardMs === null ? 'never' : ago(snap.atMs, m.lastHeardMs),
    transferText(m),
  ]));
  $('members').tBodies[0].replaceChildren(...rows);
}

function renderLog(snap) {
  const rows = snap.log.map((e) => row([new Date(e.atMs).toLocaleTimeString(), e.node, statusCell(e.change), e.by, String(e.version)]));
  $('log').tBodies[0].replaceChildren(...rows);
}

function renderLookup() {
  const out = $('lookup-result');
  if (state.lookupError !== null) {
    out.replaceChildren(el('p', { class: 'error' }, [state.lookupError]));
    return;
  }
  const l = state.lookup;
  if (l === null) return;
  const table = el('table', {}, [
    el('thead', {}, [row(['replica', 'status', 'versions'], 'th')]),
    el('tbody', {}, l.replicas.map((r) => {
      const tr = row([r.node, statusCell(r.status), versionsCell(r)]);
      tr.dataset.replica = r.node;
      return tr;
    })),
  ]);
  out.replaceChildren(
    el('p', {}, [`key `, el('code', {}, [l.key]), ` at `, el('code', {}, [l.position]), ` → preference list ${l.preferenceList.join(', ')}`]),
    table,
  );
}

function versionsCell(r) {
  if (r.error !== null) return el('span', { class: 'error' }, [r.error]);
  if (r.siblings.length === 0) return 'no version';
  return el('ul', { class: 'versions' }, r.siblings.map((s) => el('li', {}, [
    s.deleted ? '(deleted)' : JSON.stringify(decode(s.value)),
    ' ',
    el('code', {}, [Object.entries(s.clock).map(([n, c]) => `${n}:${c}`).join(' ')]),
  ])));
}

// --- key lookup ---------------------------------------------------------------------------

$('lookup').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('key').value;
  if (key === '') return;
  state.key = key;
  state.lookup = null;
  void refreshLookup();
});

async function refreshLookup() {
  if (state.lookupInFlight || state.key === null) return;
  state.lookupInFlight = true;
  const key = state.key;
  try {
    const res = await api(`/cluster/lookup/${encodeURIComponent(key)}`);
    const body = await res.json();
    if (key !== state.key) return;
    state.lookup = res.ok ? body : null;
    state.lookupError = res.ok ? null : `${res.status}: ${body.error ?? 'lookup failed'}`;
  } catch (err) {
    if (err instanceof LoginNeeded) return;
    state.lookupError = `lookup failed: ${err.message}`;
  } finally {
    state.lookupInFlight = false;
  }
  render();
}

// --- focus on hover and click -------------------------------------------------------------

$('ring').addEventListener('mouseover', (e) => setHovered(e.target.closest('[data-node]')?.dataset.node ?? null));
$('ring').addEventListener('mouseleave', () => setHovered(null));
$('ring').addEventListener('click', (e) => {
  const id = e.target.closest('[data-node]')?.dataset.node ?? null;
  state.selected = id === state.selected ? null : id;
  render();
});

function setHovered(id) {
  if (id === state.hovered) return;
  state.hovered = id;
  render();
}

// --- small helpers ------------------------------------------------------------------------

function el(tag, attrs, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function row(cells, tag = 'td') {
  return el('tr', {}, cells.map((c) => (c instanceof Node && c.nodeName.toLowerCase() === tag ? c : el(tag, {}, [c]))));
}

function statusCell(status) {
  return el('span', { class: `status ${status}` }, [status]);
}

function num(value) {
  return value === undefined ? '—' : String(value);
}

function syncText(a) {
  if (a.transfer.active) return 'transferring';
  return a.sync.state === 'syncing' ? `syncing ${a.sync.pairsDone}/${a.sync.pairsTotal}` : 'ready';
}

function transferText(m) {
  if (m.transfer === null) return m.receiving ? 'receiving' : '';
  const to = m.transfer.targets.length > 0 ? ` → ${m.transfer.targets.join(', ')}` : '';
  return `${m.transfer.keysDone}/${m.transfer.keysTotal} keys${to}`;
}

function ago(nowMs, thenMs) {
  const s = Math.max(0, (nowMs - thenMs) / 1000);
  return s < 1 ? 'just now' : `${s.toFixed(s < 10 ? 1 : 0)} s ago`;
}

/** Base64 bytes as text when they are UTF-8, else a byte count. */
function decode(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return `${bytes.length} bytes`;
  }
}

/** Mean latency per second over the last minute, scaled to its own maximum. */
function sparkline(values) {
  const width = 120;
  const height = 22;
  const max = Math.max(...values, 0.001);
  const step = width / Math.max(values.length - 1, 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  const last = values.filter((v) => v > 0).at(-1);
  return svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'sparkline' }, [
    svg('polyline', { class: 'spark', points }),
    svg('title', {}, [last === undefined ? 'idle' : `last busy second: ${last} ms mean; peak ${max} ms`]),
  ]);
}

startStream();
