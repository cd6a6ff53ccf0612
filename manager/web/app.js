// Rounds · the sales managers' page. Plain JavaScript, no dependencies: it
// reads the Rounds API with the manager's own token (kept in localStorage
// under "pocketbase_auth", as PocketBase's JS SDK keeps it), so that the
// access policy decides what it shows. Charts are SVG drawn here; every
// figure is also written out as text, so that a screen reader and a narrow
// phone get the same numbers.
'use strict';

const AUTH_KEY = 'pocketbase_auth';
const PAGE = 500; // records per list request

const state = { token: '', user: null, users: new Map(), team: [], period: null, load: 0 };

// ---------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const svg = ['svg', 'rect', 'title', 'g', 'line'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// fig is a figure the page shows: its text, with the raw value and a key
// in data attributes (the browser test compares them with the API's).
function fig(key, value, text) {
  return h('span', { class: 'fig', 'data-figure': key, 'data-value': value }, text === undefined ? String(value) : text);
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount);
  } catch {
    return `${Math.round(amount)} ${currency}`;
  }
}

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function day(iso) {
  if (!iso) return '—';
  const d = new Date(iso.replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) return iso.slice(0, 10);
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

function repName(id) {
  const u = state.users.get(id);
  if (!u) return 'Someone outside your team';
  return u.name || u.email || id;
}

// bar is a horizontal bar chart row: parts are [value, class] stacked from
// the left, out of max; decorative (the figures sit beside it as text).
function bar(parts, max, opts = {}) {
  const svg = h('svg', { class: 'bar' + (opts.centered ? ' centered' : ''), viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
  if (opts.outline !== undefined && max > 0) {
    const w = Math.max(0, Math.min(100, (100 * opts.outline) / max));
    svg.append(h('rect', { x: opts.centered ? (100 - w) / 2 : 0, y: 0, width: w, height: 10, class: 'outline' }));
  }
  const total = parts.reduce((s, [v]) => s + Math.max(0, v), 0);
  let x = opts.centered && max > 0 ? (100 - (100 * total) / max) / 2 : 0;
  for (const [v, cls] of parts) {
    const w = max > 0 ? (100 * Math.max(0, v)) / max : 0;
    if (w > 0) svg.append(h('rect', { x, y: 0, width: w, height: 10, class: cls }));
    x += w;
  }
  return svg;
}

function legend(...items) {
  return h('p', { class: 'legend', 'aria-hidden': 'true' }, items.map(([cls, label]) => h('span', {}, h('i', { class: 'swatch ' + cls }), label)));
}

function setSection(id, s, ...content) {
  const sec = $(id);
  sec.dataset.state = s;
  const body = sec.querySelector('.body');
  body.replaceChildren(...content.filter((c) => c !== null && c !== undefined && c !== false)); // a null child would print "null"
  sec.setAttribute('aria-busy', s === 'loading' ? 'true' : 'false');
}

const loading = (what) => h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Loading ${what}…`);
const empty = (text) => h('p', { class: 'empty' }, text);

// ---------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const headers = { Accept: 'application/json', ...(init.headers || {}) };
  if (state.token) headers.Authorization = state.token;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { ...init, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiError(0, 'The Rounds server cannot be reached. Check the connection, then press Retry.');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = (data && data.message) || `The server answered ${res.status}.`;
    if (res.status === 401 && state.token) signOut('Your session has ended. Sign in again.');
    throw new ApiError(res.status, message);
  }
  return data;
}

// all reads every page of a collection's records for a filter.
async function all(collection, params) {
  const out = [];
  for (let page = 1; ; page++) {
    const q = new URLSearchParams({ ...params, page: String(page), perPage: String(PAGE), skipTotal: '1' });
    const res = await api(`/api/collections/${collection}/records?${q}`);
    out.push(...res.items);
    if (res.items.length < PAGE) return out;
  }
}

// quote makes a filter's string literal (as PocketBase's JS SDK does).
const quote = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

// ---------------------------------------------------------------------------
// Signing in (tokens kept as PocketBase's JS SDK keeps them)

function saveAuth(token, record) {
  state.token = token;
  state.user = record;
  localStorage.setItem(AUTH_KEY, JSON.stringify({ token, record }));
}

function signOut(message) {
  state.token = '';
  state.user = null;
  state.load++;
  localStorage.removeItem(AUTH_KEY);
  $('who').hidden = true;
  $('dashboard').hidden = true;
  $('signin').hidden = false;
  $('main').dataset.state = 'signed-out';
  showSignInError(message || '');
  hideBanner();
}

function showSignInError(message) {
  const p = $('signin-error');
  p.textContent = message;
  p.hidden = !message;
}

async function signIn(email, password) {
  const button = $('signin-button');
  button.disabled = true;
  button.textContent = 'Signing in…';
  showSignInError('');
  $('signin-info').hidden = true;
  try {
    if (!email || !password) throw new ApiError(400, 'Enter your email and your password.');
    const res = await api('/api/collections/users/auth-with-password', { method: 'POST', body: { identity: email, password } });
    if (res.record.role !== 'manager') {
      state.token = '';
      $('main').dataset.state = 'not-manager';
      showSignInError('');
      const info = $('signin-info');
      info.textContent = 'This page is for sales managers. Your own visits, deals and customers are in the Rounds app on your phone.';
      info.hidden = false;
      return;
    }
    saveAuth(res.token, res.record);
    await start();
  } catch (err) {
    showSignInError(err.status === 400 ? 'Wrong email or password, or the account is not active.' : err.message);
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

async function resume() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(AUTH_KEY) || 'null');
  } catch {
    saved = null;
  }
  if (!saved || !saved.token) return;
  state.token = saved.token;
  try {
    const res = await api('/api/collections/users/auth-refresh', { method: 'POST' });
    if (res.record.role !== 'manager') return signOut('This page is for sales managers.');
    saveAuth(res.token, res.record);
    await start();
  } catch (err) {
    if (err.status === 0) {
      showBanner(err.message, resume);
    } else {
      signOut(err.status === 401 ? 'Your session has ended. Sign in again.' : err.message);
    }
  }
}

// ---------------------------------------------------------------------------
// Periods (dates in the browser's time zone; the server reads them in its own)

// weekBefore is six days before a date: a week (by its Monday) overlaps a
// period when it starts no earlier than six days before the period does.
function weekBefore(date) {
  const [y, m, d] = date.split('-').map(Number);
  return iso(new Date(y, m - 1, d - 6));
}

const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

function periods(today) {
  const y = today.getFullYear();
  const m = today.getMonth();
  const q = Math.floor(m / 3) * 3;
  const range = (id, label, a, b) => ({ id, label, from: iso(a), to: iso(b) });
  return [
    range('this-month', 'This month', new Date(y, m, 1), new Date(y, m + 1, 0)),
    range('last-month', 'Last month', new Date(y, m - 1, 1), new Date(y, m, 0)),
    range('this-quarter', 'This quarter', new Date(y, q, 1), new Date(y, q + 3, 0)),
    range('last-quarter', 'Last quarter', new Date(y, q - 3, 1), new Date(y, q, 0)),
    range('next-quarter', 'Next quarter', new Date(y, q + 3, 1), new Date(y, q + 6, 0)),
    range('this-year', 'This year', new Date(y, 0, 1), new Date(y, 11, 31)),
  ];
}

function setUpPeriods() {
  const select = $('period');
  const list = periods(new Date());
  select.replaceChildren(...list.map((p) => h('option', { value: p.id }, p.label)));
  const wanted = new URLSearchParams(location.hash.slice(1)).get('period');
  state.period = list.find((p) => p.id === wanted) || list.find((p) => p.id === 'this-quarter');
  select.value = state.period.id;
  select.onchange = () => {
    state.period = list.find((p) => p.id === select.value);
    history.replaceState(null, '', `#period=${state.period.id}`);
    loadAll();
  };
}

// ---------------------------------------------------------------------------
// The dashboard

async function start() {
  $('signin').hidden = true;
  $('who').hidden = false;
  $('dashboard').hidden = false;
  $('me').textContent = state.user.name || state.user.email;
  setUpPeriods();
  await loadAll();
}

async function loadAll() {
  const load = ++state.load;
  hideBanner();
  $('main').dataset.state = 'loading';
  const p = state.period;
  $('range').textContent = `${p.label}: ${day(p.from)} – ${day(p.to)}`;
  setSection('forecast', 'loading', loading('the forecast'));
  setSection('funnel', 'loading', loading('the funnel'));
  setSection('activity', 'loading', loading('activity'));
  $('activity-hint').textContent = 'Weeks (Monday to Sunday, UTC) that overlap the period.';
  setSection('due', 'loading', loading('customers due'));
  setSection('followups', 'loading', loading('follow-ups'));
  try {
    const users = await all('users', { sort: 'name', fields: 'id,name,email,role,active,manager' });
    if (load !== state.load) return;
    state.users = new Map(users.map((u) => [u.id, u]));
    state.team = users.filter((u) => u.role === 'rep' && u.manager === state.user.id);
  } catch (err) {
    return failAll(load, err);
  }
  const results = await Promise.allSettled([
    showForecast(load, p),
    showActivity(load, p),
    showDue(load),
    showFollowUps(load),
  ]);
  if (load !== state.load) return;
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && failed.reason.status === 0) showBanner(failed.reason.message, loadAll);
  $('main').dataset.state = failed ? 'error' : 'ready';
}

function failAll(load, err) {
  if (load !== state.load) return;
  for (const id of ['forecast', 'funnel', 'activity', 'due', 'followups']) setSection(id, 'error', h('p', { class: 'error' }, err.message));
  if (err.status === 0) showBanner(err.message, loadAll);
  $('main').dataset.state = 'error';
}

// guarded runs a section's loader; a failure shows in the section.
async function guarded(load, ids, fn) {
  try {
    await fn();
  } catch (err) {
    if (load === state.load) for (const id of ids) setSection(id, 'error', h('p', { class: 'error' }, err.message));
    throw err;
  }
}

function showForecast(load, p) {
  return guarded(load, ['forecast', 'funnel'], async () => {
    const report = await api(`/api/reports/forecast?${new URLSearchParams({ from: p.from, to: p.to })}`);
    if (load !== state.load) return;
    const currencies = report.currencies || [];
    if (currencies.length === 0) {
      setSection('forecast', 'empty', empty('No closed orders and no open deals expected to close in this period.'));
      setSection('funnel', 'empty', empty('No open deals expected to close in this period.'));
      return;
    }
    setSection('forecast', 'ready', ...currencies.map(forecastOf));
    const stages = currencies.filter((c) => c.by_stage && c.by_stage.length > 0);
    if (stages.length === 0) setSection('funnel', 'empty', empty('No open deals expected to close in this period.'));
    else setSection('funnel', 'ready', ...stages.map(funnelOf));
  });
}

function forecastOf(c) {
  const cur = c.currency;
  const reps = [...c.by_rep].sort((a, b) => b.forecast - a.forecast);
  const max = Math.max(1, ...reps.map((r) => r.closed + r.weighted));
  return h('div', { class: 'currency' },
    h('div', { class: 'totals' },
      h('div', { class: 'total' }, h('span', { class: 'label' }, 'Closed'), fig(`forecast.${cur}.closed`, c.closed, money(c.closed, cur))),
      h('div', { class: 'total' }, h('span', { class: 'label' }, 'Weighted pipeline'), fig(`forecast.${cur}.weighted`, c.weighted, money(c.weighted, cur))),
      h('div', { class: 'total strong' }, h('span', { class: 'label' }, `Forecast (${cur})`), fig(`forecast.${cur}.forecast`, c.forecast, money(c.forecast, cur)))),
    legend(['closed', 'Closed'], ['weighted', 'Weighted']),
    h('ul', { class: 'rows', 'aria-label': `Forecast per rep in ${cur}` },
      reps.map((r) => h('li', { class: 'row', 'data-rep': r.rep },
        h('span', { class: 'name' }, repName(r.rep)),
        bar([[r.closed, 'closed'], [r.weighted, 'weighted']], max),
        h('span', { class: 'nums' },
          fig(`forecast.${cur}.rep.${r.rep}.closed`, r.closed, money(r.closed, cur)), ' closed · ',
          fig(`forecast.${cur}.rep.${r.rep}.weighted`, r.weighted, money(r.weighted, cur)), ' weighted')))));
}

function funnelOf(c) {
  const cur = c.currency;
  const max = Math.max(1, ...c.by_stage.map((s) => s.amount));
  return h('div', { class: 'currency' },
    h('h3', {}, cur),
    h('ul', { class: 'rows funnel', 'aria-label': `Funnel by stage in ${cur}` },
      c.by_stage.map((s) => h('li', { class: 'row' },
        h('span', { class: 'name' }, s.name),
        bar([[s.amount, 'stage']], max, { centered: true }),
        h('span', { class: 'nums' },
          fig(`funnel.${cur}.${s.stage}.count`, s.count, count(s.count, 'deal', 'deals')), ' · ',
          fig(`funnel.${cur}.${s.stage}.amount`, s.amount, money(s.amount, cur)),
          s.stalled > 0 ? h('span', { class: 'warn' }, ' · ', fig(`funnel.${cur}.${s.stage}.stalled`, s.stalled, `${s.stalled} stalled`))
            : h('span', { class: 'quiet' }, ' · ', fig(`funnel.${cur}.${s.stage}.stalled`, 0, 'none stalled')))))));
}

function showActivity(load, p) {
  return guarded(load, ['activity'], async () => {
    const rows = await all('rep_activity', { filter: `week >= ${quote(weekBefore(p.from))} && week <= ${quote(p.to)}` });
    if (load !== state.load) return;
    const byRep = new Map();
    for (const r of rows) {
      const a = byRep.get(r.rep) || { planned: 0, later: 0, done: 0, verified: 0, productive: 0, orders: 0, weeks: 0 };
      // done is compared with what was planned up to now; later visits are planned, not missed
      a.planned += r.visits_planned_to_date;
      a.later += r.visits_planned - r.visits_planned_to_date;
      a.done += r.visits_done;
      a.verified += Math.round((r.verified_pct * r.visits_done) / 100);
      a.productive += r.productive_visits;
      a.orders += r.orders;
      a.weeks++;
      byRep.set(r.rep, a);
    }
    const weeks = new Set(rows.map((r) => r.week)).size;
    $('activity-hint').textContent = weeks
      ? `${count(weeks, 'week', 'weeks')} (Monday to Sunday, UTC) that overlap the period.`
      : 'Weeks (Monday to Sunday, UTC) that overlap the period.';
    // every rep of the team, the ones who did nothing (and the inactive) included: they are who a
    // manager must see
    const zero = () => ({ planned: 0, later: 0, done: 0, verified: 0, productive: 0, orders: 0, weeks: 0 });
    const reps = state.team.map((u) => [u.id, byRep.get(u.id) || zero()]);
    for (const [id, a] of byRep) if (!state.team.some((u) => u.id === id) && a.planned + a.done + a.orders > 0) reps.push([id, a]);
    if (weeks === 0 && rows.length === 0 && p.from > new Date().toISOString().slice(0, 10)) {
      setSection('activity', 'empty', empty('This period has not started yet.'));
      return;
    }
    if (reps.length === 0) {
      setSection('activity', 'empty', empty('No reps report to you yet: an admin sets a rep\'s manager in the dashboard.'));
      return;
    }
    reps.sort((x, y) => repName(x[0]).localeCompare(repName(y[0])));
    const max = Math.max(1, ...reps.map(([, a]) => Math.max(a.planned, a.done)));
    setSection('activity', 'ready',
      legend(['done', 'Visits done'], ['outline', 'Planned']),
      h('ul', { class: 'rows', 'aria-label': 'Activity per rep' },
        reps.map(([rep, a]) => h('li', { class: 'row', 'data-rep': rep },
          h('span', { class: 'name' }, repName(rep), state.users.get(rep)?.active === false ? h('span', { class: 'muted' }, ' (inactive)') : '',
            a.planned + a.later + a.done + a.orders === 0 ? h('span', { class: 'warn' }, ' · nothing this period') : ''),
          bar([[a.done, 'done']], max, { outline: a.planned }),
          h('span', { class: 'nums' },
            fig(`activity.${rep}.visits_done`, a.done), ' of ', fig(`activity.${rep}.visits_planned`, a.planned), ' visits planned so far done · ',
            a.later > 0 ? [fig(`activity.${rep}.visits_planned_later`, a.later), ' more planned · '] : '',
            fig(`activity.${rep}.verified`, a.verified), ' verified check-ins · ',
            fig(`activity.${rep}.productive_visits`, a.productive), ' with an order · ',
            fig(`activity.${rep}.orders`, a.orders, count(a.orders, 'order', 'orders')))))));
  });
}

function showDue(load) {
  return guarded(load, ['due'], async () => {
    const rows = await all('visits_due', { sort: '-days_overdue,tier', expand: 'customer,owner', fields: 'id,tier,days_overdue,next_visit_due,owner,expand.customer.name,expand.owner.name' });
    if (load !== state.load) return;
    if (rows.length === 0) {
      setSection('due', 'empty', empty('Every customer of your team has been visited on time. Nobody is due today.'));
      return;
    }
    const tiers = ['A', 'B', 'C'];
    const cell = (tier, kind) => {
      const n = rows.filter((r) => (r.tier || 'C') === tier && (kind === 'overdue' ? r.days_overdue > 0 : r.days_overdue === 0)).length;
      return h('td', { class: n > 0 && kind === 'overdue' ? 'warn' : '' }, fig(`due.${tier}.${kind}`, n));
    };
    const worst = rows.filter((r) => r.days_overdue > 0).slice(0, 8);
    setSection('due', 'ready',
      h('table', { class: 'tiers' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Tier'), h('th', { scope: 'col' }, 'Overdue'), h('th', { scope: 'col' }, 'Due today'))),
        h('tbody', {}, tiers.map((t) => h('tr', {}, h('th', { scope: 'row' }, h('span', { class: `tier tier-${t}` }, t)), cell(t, 'overdue'), cell(t, 'today'))))),
      worst.length ? h('h3', {}, 'Most overdue') : null,
      worst.length ? h('ul', { class: 'list' }, worst.map((r) => h('li', {},
        h('span', { class: `tier tier-${r.tier || 'C'}` }, r.tier || 'C'), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => openCustomer(r.id) }, (r.expand && r.expand.customer && r.expand.customer.name) || r.id),
        h('span', { class: 'muted' }, ` · ${(r.expand && r.expand.owner && r.expand.owner.name) || repName(r.owner)} · ${count(r.days_overdue, 'day', 'days')} overdue`)))) : null);
  });
}

function showFollowUps(load) {
  return guarded(load, ['followups'], async () => {
    const rows = await all('follow_ups', { filter: "status = 'open'", sort: 'due_at', expand: 'customer', fields: 'id,due_at,note,assignee,customer,expand.customer.name' });
    if (load !== state.load) return;
    if (rows.length === 0) {
      setSection('followups', 'empty', empty('No open follow-ups: every promise is kept.'));
      return;
    }
    const now = new Date().toISOString().replace('T', ' ');
    const overdue = (f) => f.due_at < now;
    const byRep = new Map();
    for (const f of rows) {
      const a = byRep.get(f.assignee) || { open: 0, overdue: 0 };
      a.open++;
      if (overdue(f)) a.overdue++;
      byRep.set(f.assignee, a);
    }
    const late = rows.filter(overdue);
    const reps = [...byRep.entries()].sort((x, y) => repName(x[0]).localeCompare(repName(y[0])));
    setSection('followups', 'ready',
      h('p', { class: 'totals-line' }, fig('followups.open', rows.length, count(rows.length, 'open follow-up', 'open follow-ups')), ', ',
        h('span', { class: late.length ? 'warn' : '' }, fig('followups.overdue', late.length, `${late.length} overdue`))),
      h('ul', { class: 'rows compact', 'aria-label': 'Follow-ups per rep' }, reps.map(([rep, a]) => h('li', { class: 'row', 'data-rep': rep },
        h('span', { class: 'name' }, repName(rep)),
        bar([[a.overdue, 'late'], [a.open - a.overdue, 'open']], rows.length > 0 ? Math.max(...reps.map(([, b]) => b.open)) : 1),
        h('span', { class: 'nums' }, fig(`followups.${rep}.open`, a.open, `${a.open} open`), ' · ', fig(`followups.${rep}.overdue`, a.overdue, `${a.overdue} overdue`))))),
      late.length ? h('h3', {}, 'Overdue') : null,
      late.length ? h('ul', { class: 'list' }, late.slice(0, 8).map((f) => h('li', {},
        h('button', { type: 'button', class: 'link', onclick: () => openCustomer(f.customer) }, (f.expand && f.expand.customer && f.expand.customer.name) || f.customer),
        h('span', {}, `: ${f.note || 'follow up'}`),
        h('span', { class: 'muted' }, ` · due ${day(f.due_at)} · ${repName(f.assignee)}`)))) : null);
  });
}

// ---------------------------------------------------------------------------
// Customers: search, timeline, hand-over

let searchTimer = 0;
let searchSeq = 0;

function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 250);
}

async function search() {
  const q = $('search').value.trim();
  const out = $('results');
  const seq = ++searchSeq;
  if (!q) {
    out.replaceChildren();
    return;
  }
  out.replaceChildren(loading('customers'));
  out.dataset.state = 'loading';
  try {
    const params = new URLSearchParams({ filter: `name ~ ${quote(q)}`, sort: 'name', perPage: '20', expand: 'owner', fields: 'id,name,tier,city,owner,expand.owner.name' });
    const res = await api(`/api/collections/customers/records?${params}`);
    if (seq !== searchSeq) return;
    out.dataset.state = res.items.length ? 'ready' : 'empty';
    if (res.items.length === 0) {
      out.replaceChildren(empty(`No customer of your team matches “${q}”.`));
      return;
    }
    out.replaceChildren(h('ul', { class: 'list results-list' }, res.items.map((c) => h('li', {},
      h('button', { type: 'button', class: 'result', 'data-customer': c.id, onclick: () => openCustomer(c.id) },
        h('span', { class: `tier tier-${c.tier || 'C'}` }, c.tier || 'C'), ' ', h('strong', {}, c.name),
        h('span', { class: 'muted' }, ` · ${[c.city, (c.expand && c.expand.owner && c.expand.owner.name) || repName(c.owner)].filter(Boolean).join(' · ')}`))))));
  } catch (err) {
    if (seq !== searchSeq) return;
    out.dataset.state = 'error';
    out.replaceChildren(h('p', { class: 'error' }, err.message));
    if (err.status === 0) showBanner(err.message, search);
  }
}

async function openCustomer(id) {
  const panel = $('customer');
  $('results').replaceChildren();
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.replaceChildren(loading('the customer'));
  try {
    const [c, timeline] = await Promise.all([
      api(`/api/collections/customers/records/${encodeURIComponent(id)}?expand=owner`),
      all('customer_timeline', { filter: `customer = ${quote(id)}`, sort: '-at', expand: 'user', fields: 'id,at,kind,summary,user,expand.user.name' }),
    ]);
    renderCustomer(c, timeline);
    panel.scrollIntoView({ block: 'start' });
  } catch (err) {
    panel.dataset.state = 'error';
    panel.replaceChildren(h('p', { class: 'error' }, err.status === 404 ? 'This customer is not among your team\'s customers.' : err.message));
  }
}

function renderCustomer(c, timeline, notice) {
  const panel = $('customer');
  const owner = (c.expand && c.expand.owner && c.expand.owner.name) || repName(c.owner);
  const others = state.team.filter((u) => u.id !== c.owner && u.active);
  const form = handOverForm(c, others);
  panel.dataset.state = 'ready';
  panel.dataset.customer = c.id;
  panel.replaceChildren(...[
    h('div', { class: 'customer-head' },
      h('h3', {}, h('span', { class: `tier tier-${c.tier || 'C'}` }, c.tier || 'C'), ' ', c.name),
      h('button', { type: 'button', class: 'link close', onclick: () => { panel.hidden = true; } }, 'Close')),
    h('p', { class: 'facts' },
      h('span', {}, 'Rep: ', h('strong', { id: 'customer-owner', 'data-owner': c.owner }, owner)),
      c.city ? h('span', {}, ` · ${c.city}`) : null,
      h('span', {}, ` · last visit ${day(c.last_visit_at)}`),
      h('span', {}, ` · next visit due ${day(c.next_visit_due)}`)),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form,
    h('h4', {}, 'Timeline'),
    timeline.length === 0 ? empty('Nothing has happened with this customer yet.') : timelineOf(timeline, TIMELINE_FIRST),
  ].filter(Boolean));
}

const TIMELINE_FIRST = 30; // events shown before "Show all"

function timelineOf(events, limit) {
  const list = h('ol', { class: 'timeline' }, events.slice(0, limit).map((t) => h('li', { 'data-kind': t.kind },
    h('time', {}, day(t.at)),
    h('div', {},
      h('span', { class: `kind kind-${t.kind}` }, t.kind.replace('_', ' ')),
      h('p', { class: 'summary' }, t.summary),
      t.expand && t.expand.user ? h('span', { class: 'by muted' }, t.expand.user.name) : null))));
  if (events.length <= limit) return list;
  const wrap = h('div', {}, list);
  wrap.append(h('button', { type: 'button', class: 'link more', onclick: () => wrap.replaceWith(timelineOf(events, events.length)) },
    `Show all ${events.length} events`));
  return wrap;
}

function handOverForm(c, others) {
  if (c.owner && state.users.get(c.owner) && state.users.get(c.owner).manager !== state.user.id) {
    return h('p', { class: 'muted' }, 'This customer is yours, not a rep\'s: an admin moves it.');
  }
  if (others.length === 0) return h('p', { class: 'muted' }, 'No other active rep in your team to hand this customer to.');
  const select = h('select', { id: 'handover-to', 'aria-label': 'Rep who takes the customer' },
    h('option', { value: '' }, 'Choose a rep…'), others.map((u) => h('option', { value: u.id }, u.name || u.email)));
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const confirmBox = h('div', { class: 'confirm', hidden: true });
  const button = h('button', { type: 'button', id: 'handover' }, 'Hand over');
  button.addEventListener('click', () => {
    error.hidden = true;
    if (!select.value) {
      error.textContent = 'Choose the rep who takes the customer.';
      error.hidden = false;
      return;
    }
    const to = state.users.get(select.value);
    confirmBox.replaceChildren(
      h('p', {}, `Hand ${c.name} to ${to.name}? The customer's open follow-ups go with it, and both phones get the change at their next sync.`),
      h('button', { type: 'button', id: 'handover-confirm', onclick: () => handOver(c, to, error, confirmBox) }, `Hand to ${to.name}`),
      h('button', { type: 'button', class: 'link', onclick: () => { confirmBox.hidden = true; } }, 'Cancel'));
    confirmBox.hidden = false;
    confirmBox.scrollIntoView({ block: 'nearest' });
    confirmBox.querySelector('button').focus();
  });
  return h('div', { class: 'handover' },
    h('label', {}, 'Hand over to ', select), button, confirmBox, error);
}

async function handOver(c, to, error, confirmBox) {
  const buttons = confirmBox.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api('/api/manager/hand-over', { method: 'POST', body: { customer: c.id, to: to.id } });
    const [fresh, timeline] = await Promise.all([
      api(`/api/collections/customers/records/${encodeURIComponent(c.id)}?expand=owner`),
      all('customer_timeline', { filter: `customer = ${quote(c.id)}`, sort: '-at', expand: 'user', fields: 'id,at,kind,summary,user,expand.user.name' }),
    ]);
    renderCustomer(fresh, timeline, `${c.name} is now ${to.name}'s. Both phones get the change at their next sync.`);
    loadAll();
  } catch (err) {
    buttons.forEach((b) => { b.disabled = false; });
    error.textContent = err.message;
    error.hidden = false;
  }
}

// ---------------------------------------------------------------------------
// The banner: the server cannot be reached

let retryFn = null;

function showBanner(message, retry) {
  $('banner-text').textContent = message;
  retryFn = retry;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = e.target;
    signIn(f.email.value.trim(), f.password.value);
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('retry').addEventListener('click', () => {
    hideBanner();
    if (retryFn) retryFn();
  });
  $('search').addEventListener('input', onSearch);
  resume();
});
