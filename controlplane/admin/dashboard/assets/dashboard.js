// The live dashboard's page script: plain ES module, no build step, no framework. It renders what
// /dashboard/events streams (fleet, timeline, traffic, problem) and posts the buttons with the
// session's CSRF token. Every value is set as text (never as HTML).

const csrf = document.querySelector('meta[name="northwest-csrf"]')?.getAttribute('content') ?? '';
const byId = (id) => document.getElementById(id);
const TERMINAL = new Set(['done', 'rolled-back', 'failed']);
const HISTORY = 90;
const COLORS = { n1: '#2456a6', n2: '#1f8a4c', none: '#b0473a' };

const state = { fleet: null, timelines: new Map(), traffic: [], selected: '', pinned: false };

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '');
const ms = (v) => (v === null || v === undefined ? '–' : `${v} ms`);

function replaceRows(table, rows) {
  table.querySelector('tbody').replaceChildren(...rows);
}

function renderFleet() {
  const f = state.fleet;
  if (!f) return;
  byId('leader').textContent = `leader ${f.leader ?? 'none'} · ${time(f.at)}`;
  replaceRows(
    byId('apps'),
    f.apps.map((a) =>
      el(
        'tr',
        { 'data-app': a.app },
        el('td', { text: a.app }),
        el('td', {}, el('span', { class: `mode mode-${a.mode ?? 'none'}`, text: a.mode ?? 'no state' })),
        el('td', { text: a.epoch ?? '–', class: 'epoch' }),
        el('td', { text: `${a.acked}/${a.acks.length}`, title: a.acks.map((k) => `${k.member}: ${k.epoch ?? 'none'}`).join(', ') }),
        el('td', { text: a.lock ?? a.migration ?? '' }),
      ),
    ),
  );
  replaceRows(
    byId('members'),
    f.members.map((m) =>
      el(
        'tr',
        { 'data-member': m.id },
        el('td', { text: m.id }),
        el('td', { text: m.kind }),
        el('td', { text: m.host }),
        el('td', { text: m.apps.join(', ') }),
        el(
          'td',
          {},
          el('span', { class: `health health-${m.health}`, text: m.health }),
          ' ',
          el('span', { class: 'muted small', text: m.behindMs ? `${m.detail} (${(m.behindMs / 1000).toFixed(1)} s)` : m.detail }),
        ),
      ),
    ),
  );
}

/** The migration to show: the one picked, else the newest running one, else the newest. */
function pickMigration() {
  const ms = [...state.timelines.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  if (state.pinned && state.timelines.has(state.selected)) return;
  const running = ms.find((m) => !TERMINAL.has(m.status));
  state.selected = (running ?? ms[0])?.id ?? '';
}

function renderMigration() {
  pickMigration();
  const select = byId('migration');
  const ids = [...state.timelines.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  select.replaceChildren(
    ...ids.map((m) =>
      el('option', { value: m.id, text: `${m.id} (${m.apps.join(', ')})`, ...(m.id === state.selected ? { selected: '' } : {}) }),
    ),
  );
  const m = state.timelines.get(state.selected);
  const status = byId('migration-status');
  status.textContent = m ? `${m.status}${m.phase ? ` · ${m.phase} ${m.phaseStatus ?? ''}` : ''}` : 'no migration';
  status.className = `badge status-${m?.status ?? 'none'}`;
  for (const b of document.querySelectorAll('button[data-op]')) {
    const op = b.dataset.op;
    const live = m && !TERMINAL.has(m.status);
    b.disabled = !live || (op === 'pause' && m.status !== 'running') || (op === 'resume' && m.status !== 'paused');
    if (op === 'abort' && m?.status === 'rolling-back') b.disabled = true;
  }
  const err = byId('migration-error');
  err.hidden = !m?.error;
  err.textContent = m?.error ? `${m.error.code}: ${m.error.message}` : '';
  byId('timeline').replaceChildren(
    ...(m?.events ?? []).map((e) =>
      el(
        'li',
        { class: `ev ev-${e.event}` },
        el('span', { class: 'at', text: time(e.at) }),
        el('span', { class: 'event', text: e.event }),
        el('span', { class: 'phase', text: e.phase ?? '' }),
        el('span', { class: 'dur', text: e.durationMs !== undefined ? `${e.durationMs} ms` : '' }),
        el('span', { class: 'detail', text: e.detail ?? '' }),
      ),
    ),
  );
}

/**
 * A sparkline: one polyline per series, time running left to right (one reading a second, the
 * newest at the right edge), scaled to the highest value, which is written at the top with its unit.
 */
function sparkline(series, width, height, unit) {
  const s = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'spark' });
  const max = Math.max(...series.flatMap((x) => x.values.filter((v) => v !== null)), 0);
  const top = max > 0 ? max : 1;
  const slots = Math.max(30, ...series.map((x) => x.values.length));
  const step = width / (slots - 1);
  s.append(svg('line', { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, stroke: '#d8dde5' }));
  for (const { color, values } of series) {
    const offset = slots - values.length;
    const points = values
      .map((v, i) => (v === null ? null : `${((offset + i) * step).toFixed(1)},${(height - 2 - (v / top) * (height - 14)).toFixed(1)}`))
      .filter((p) => p !== null)
      .join(' ');
    if (points) s.append(svg('polyline', { points, fill: 'none', stroke: color, 'stroke-width': 1.5 }));
  }
  const label = svg('text', { x: 2, y: 9, 'font-size': 9, fill: '#6b7686' });
  label.textContent = `max ${Math.round(max * 10) / 10} ${unit}`;
  s.append(label);
  return s;
}

function renderTraffic() {
  const latest = state.traffic.at(-1);
  if (!latest) return;
  const apps = new Set(state.traffic.flatMap((t) => t.apps.map((a) => a.app)));
  const blocks = [...apps].sort().map((app) => {
    const readings = state.traffic.map((t) => t.apps.find((a) => a.app === app));
    const now = readings.at(-1);
    const deployments = [...new Set(readings.flatMap((r) => r?.deployments.map((d) => d.deployment) ?? []))].sort();
    const rate = (dep, r) => r?.deployments.find((d) => d.deployment === dep)?.rps ?? 0;
    const legend = deployments.map((d) =>
      el('span', { class: `dep dep-${d}`, 'data-deployment': d, text: `${d} ${rate(d, now).toFixed(1)}/s` }),
    );
    return el(
      'div',
      { class: 'app-traffic', 'data-app': app },
      el('div', { class: 'app-name', text: app }),
      el('div', { class: 'legend' }, ...legend, el('span', { class: 'p99', text: `p99 ${ms(now?.p99Ms)}` })),
      sparkline(
        deployments.map((d) => ({ color: COLORS[d] ?? '#777', values: readings.map((r) => rate(d, r)) })),
        300,
        46,
        'req/s',
      ),
      sparkline([{ color: '#7a4cb0', values: readings.map((r) => r?.p99Ms ?? null) }], 300, 30, 'ms p99'),
    );
  });
  if (blocks.length) byId('traffic').replaceChildren(...blocks);
  const unread = latest.unreadable.map((u) => `${u.member}: ${u.reason}`).join('; ');
  const span = `last ${state.traffic.length} s, each rate over ${latest.windowMs / 1000} s`;
  byId('unreadable').textContent = `${span}; ${latest.gateways} gateway(s) read${unread ? `; not read: ${unread}` : ''}`;
}

function showProblem(text) {
  const p = byId('problem');
  p.hidden = !text;
  p.textContent = text;
}

async function control(op) {
  const id = state.selected;
  if (!id) return;
  if (op === 'abort' && !window.confirm(`Abort ${id} and roll back to N1?`)) return;
  const out = byId('action');
  out.textContent = `${op}: sending…`;
  try {
    const res = await fetch(`/dashboard/migrations/${encodeURIComponent(id)}/${op}`, {
      method: 'POST',
      headers: { 'x-northwest-csrf': csrf },
    });
    const body = await res.json().catch(() => ({}));
    out.textContent = res.ok
      ? `${op}: asked at ${time(new Date().toISOString())}; the leader acts between steps`
      : `${op}: ${body.error?.code ?? res.status}: ${body.error?.message ?? ''}`;
  } catch (err) {
    out.textContent = `${op}: ${err.message}`;
  }
}

function connect() {
  const conn = byId('conn');
  const events = new EventSource('/dashboard/events');
  events.addEventListener('open', () => {
    conn.textContent = 'live';
    conn.className = 'badge live';
  });
  events.addEventListener('error', () => {
    const closed = events.readyState === EventSource.CLOSED;
    conn.textContent = closed ? 'signed out: reload to sign in' : 'reconnecting';
    conn.className = 'badge down';
  });
  events.addEventListener('fleet', (e) => {
    state.fleet = JSON.parse(e.data);
    showProblem('');
    renderFleet();
  });
  events.addEventListener('timeline', (e) => {
    const t = JSON.parse(e.data);
    const known = state.timelines.get(t.id);
    const events = t.reset || !known ? t.events : [...known.events, ...t.events];
    state.timelines.set(t.id, { ...t, events });
    renderMigration();
  });
  events.addEventListener('traffic', (e) => {
    state.traffic.push(JSON.parse(e.data));
    if (state.traffic.length > HISTORY) state.traffic.shift();
    renderTraffic();
  });
  events.addEventListener('problem', (e) => {
    const p = JSON.parse(e.data);
    showProblem(`${p.code}: ${p.message}`);
  });
}

byId('migration').addEventListener('change', (e) => {
  state.selected = e.target.value;
  state.pinned = true;
  renderMigration();
});
for (const b of document.querySelectorAll('button[data-op]')) b.addEventListener('click', () => control(b.dataset.op));
byId('signout').addEventListener('click', async () => {
  await fetch('/dashboard/signout', { method: 'POST', headers: { 'x-northwest-csrf': csrf } });
  window.location.assign('/dashboard');
});
renderMigration();
connect();
