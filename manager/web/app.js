// Rounds · the sales managers' page. Plain JavaScript, no dependencies: it
// reads the Rounds API with the manager's own token (kept in localStorage
// under "pocketbase_auth", as PocketBase's JS SDK keeps it), so that the
// access policy decides what it shows. Charts are SVG drawn here; every
// figure is also written out as text, so that a screen reader and a narrow
// phone get the same numbers.
'use strict';

const AUTH_KEY = 'pocketbase_auth';
const PAGE = 500; // records per list request

function storedLanguage() {
  try { return localStorage.getItem(LANG_KEY); } catch { return null; }
}

// the page's language (strings.js), and the locale its dates and sums are written in
const LANG = pickLanguage(storedLanguage(), navigator.languages);
const T = WORDS[LANG];
const LOCALE = LANG === 'en' ? ((navigator.languages || []).find((l) => /^en\b/i.test(l)) || 'en') : LANG;

const state = { token: '', user: null, users: new Map(), team: [], stages: new Map(), period: null, report: null, now: '', load: 0 };

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
  for (const c of children.flat(Infinity)) {
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
    return new Intl.NumberFormat(LOCALE, { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount);
  } catch {
    return `${Math.round(amount)} ${currency}`;
  }
}

function day(iso) {
  if (!iso) return '—';
  const d = new Date(iso.replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) return iso.slice(0, 10);
  return d.toLocaleDateString(LOCALE, { day: 'numeric', month: 'short', year: 'numeric' });
}

// pbDate is an instant as PocketBase writes it (UTC), to compare in filters.
const pbDate = (d) => d.toISOString().replace('T', ' ');

const startOfToday = () => { const d = new Date(); return new Date(d.getFullYear(), d.getMonth(), d.getDate()); };

// ago is how long ago an instant was, in words.
function ago(isoText) {
  const t = new Date(isoText.replace(' ', 'T')).getTime();
  if (Number.isNaN(t)) return '—';
  const min = Math.round((Date.now() - t) / 60000);
  const rtf = new Intl.RelativeTimeFormat(LOCALE, { numeric: 'auto' });
  if (min < 60) return rtf.format(-Math.max(0, min), 'minute');
  if (min < 48 * 60) return rtf.format(-Math.round(min / 60), 'hour');
  return rtf.format(-Math.round(min / 1440), 'day');
}

function repName(id) {
  const u = state.users.get(id);
  if (!u) return T.someoneOutside;
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
  if (opts.target !== undefined && max > 0) {
    const tx = Math.min(99.4, (100 * opts.target) / max);
    svg.append(h('rect', { x: tx, y: 0, width: 0.6, height: 10, class: 'target' }));
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

const loading = (what) => h('p', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), T.loading(T.what[what]));
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
    throw new ApiError(0, T.unreachable);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = (data && data.message) || T.serverAnswered(res.status);
    if (res.status === 401 && state.token) signOut(T.sessionEnded);
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
  button.textContent = T.signingIn;
  showSignInError('');
  $('signin-info').hidden = true;
  try {
    if (!email || !password) throw new ApiError(400, T.enterBoth);
    const res = await api('/api/collections/users/auth-with-password', { method: 'POST', body: { identity: email, password } });
    if (res.record.role !== 'manager') {
      state.token = '';
      $('main').dataset.state = 'not-manager';
      showSignInError('');
      const info = $('signin-info');
      info.textContent = T.forManagers;
      info.hidden = false;
      return;
    }
    saveAuth(res.token, res.record);
    await start();
  } catch (err) {
    showSignInError(err.status === 400 ? T.wrongLogin : err.message);
  } finally {
    button.disabled = false;
    button.textContent = T.signIn;
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
    if (res.record.role !== 'manager') return signOut(T.forManagersShort);
    saveAuth(res.token, res.record);
    await start();
  } catch (err) {
    if (err.status === 0) {
      showBanner(err.message, resume);
    } else {
      signOut(err.status === 401 ? T.sessionEnded : err.message);
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
  // each period with the one before it, of the same length, for comparison
  const range = (id, a, b, pa, pb) => ({ id, label: T.periods[id][0], from: iso(a), to: iso(b), prev: { label: T.periods[id][1], from: iso(pa), to: iso(pb) } });
  return [
    range('this-month', new Date(y, m, 1), new Date(y, m + 1, 0), new Date(y, m - 1, 1), new Date(y, m, 0)),
    range('last-month', new Date(y, m - 1, 1), new Date(y, m, 0), new Date(y, m - 2, 1), new Date(y, m - 1, 0)),
    range('this-quarter', new Date(y, q, 1), new Date(y, q + 3, 0), new Date(y, q - 3, 1), new Date(y, q, 0)),
    range('last-quarter', new Date(y, q - 3, 1), new Date(y, q, 0), new Date(y, q - 6, 1), new Date(y, q - 3, 0)),
    range('next-quarter', new Date(y, q + 3, 1), new Date(y, q + 6, 0), new Date(y, q, 1), new Date(y, q + 3, 0)),
    range('this-year', new Date(y, 0, 1), new Date(y, 11, 31), new Date(y - 1, 0, 1), new Date(y - 1, 11, 31)),
  ];
}

// dayNumber counts days (for prorating a quota by the days it shares with a period).
const dayNumber = (date) => Math.round(Date.UTC(...date.slice(0, 10).split('-').map((v, i) => Number(v) - (i === 1 ? 1 : 0))) / 86400000);

// targets sums each rep's quotas per currency over the period, each
// prorated by the days it shares with the period: rep -> currency -> amount.
function targets(quotas, p) {
  const out = new Map();
  const from = dayNumber(p.from);
  const to = dayNumber(p.to);
  for (const q of quotas) {
    const qs = dayNumber(q.period_start);
    const qe = dayNumber(q.period_end);
    const shared = Math.min(qe, to) - Math.max(qs, from) + 1;
    if (shared <= 0 || qe < qs) continue;
    const byCur = out.get(q.rep) || new Map();
    byCur.set(q.currency, (byCur.get(q.currency) || 0) + (q.amount * shared) / (qe - qs + 1));
    out.set(q.rep, byCur);
  }
  for (const byCur of out.values()) for (const [cur, v] of byCur) byCur.set(cur, Math.round(v * 100) / 100);
  return out;
}

function setUpPeriods() {
  const select = $('period');
  const ranges = periods(new Date());
  select.replaceChildren(...ranges.map((p) => h('option', { value: p.id }, p.label)));
  const wanted = new URLSearchParams(location.hash.slice(1)).get('period');
  state.period = ranges.find((p) => p.id === wanted) || ranges.find((p) => p.id === 'this-quarter');
  select.value = state.period.id;
  select.onchange = () => {
    state.period = ranges.find((p) => p.id === select.value);
    history.replaceState(null, '', `#period=${state.period.id}`);
    // a list of the period's deals belongs to the period left behind
    if (list && list.opts.kind === 'stalled') {
      $('list').hidden = true;
      list = null;
    }
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
  $('range').textContent = T.range(p.label, day(p.from), day(p.to));
  setSection('forecast', 'loading', loading('forecast'));
  setSection('funnel', 'loading', loading('funnel'));
  setSection('activity', 'loading', loading('activity'));
  $('activity-hint').textContent = T.weeksHintNone;
  setSection('due', 'loading', loading('due'));
  setSection('followups', 'loading', loading('followUps'));
  setSection('map-card', 'loading', loading('map'));
  // one instant for every "overdue" and "past" on the page, so that a figure and its list agree
  state.now = pbDate(new Date());
  try {
    const [users, stages] = await Promise.all([
      all('users', { sort: 'name', fields: 'id,name,email,role,active,manager' }),
      all('stages', { sort: 'position,name', fields: 'id,name,max_days,outcome' }),
    ]);
    if (load !== state.load) return;
    state.users = new Map(users.map((u) => [u.id, u]));
    state.team = users.filter((u) => u.role === 'rep' && u.manager === state.user.id);
    state.stages = new Map(stages.map((x) => [x.id, x]));
  } catch (err) {
    return failAll(load, err);
  }
  showTierHint(load);
  const results = await Promise.allSettled([
    showForecast(load, p),
    showActivity(load, p),
    showDue(load),
    showFollowUps(load),
    showMap(load, p),
  ]);
  if (load !== state.load) return;
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && failed.reason.status === 0) showBanner(failed.reason.message, loadAll);
  $('main').dataset.state = failed ? 'error' : 'ready';
}

function failAll(load, err) {
  if (load !== state.load) return;
  for (const id of ['forecast', 'funnel', 'activity', 'due', 'followups', 'map-card']) setSection(id, 'error', h('p', { class: 'error' }, err.message));
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
    const [report, prev, quotas, late] = await Promise.all([
      api(`/api/reports/forecast?${new URLSearchParams({ from: p.from, to: p.to })}`),
      api(`/api/reports/forecast?${new URLSearchParams({ from: p.prev.from, to: p.prev.to })}`),
      all('quotas', { filter: `period_start <= ${quote(p.to + ' 23:59:59.999Z')} && period_end >= ${quote(p.from)}`, fields: 'rep,period_start,period_end,amount,currency' }),
      total('opportunities', LISTS.late().filter),
    ]);
    if (load !== state.load) return;
    state.report = report;
    const lateLine = h('p', { class: 'totals-line' }, late > 0
      ? h('span', { class: 'warn' }, fill(T.latePast, { deals: opener('deals.late', { kind: 'late' }, fig('deals.late', late, T.openDeals(late))) }))
      : h('span', { class: 'quiet' }, fill(T.noLate, { none: fig('deals.late', 0, T.noOpenDeal) })));
    const currencies = report.currencies || [];
    if (currencies.length === 0) {
      setSection('forecast', 'empty', empty(T.noForecast));
      setSection('funnel', late ? 'ready' : 'empty', lateLine, empty(T.noFunnel));
      return;
    }
    const goals = targets(quotas, p);
    setSection('forecast', 'ready', ...currencies.map((c) => forecastOf(c, (prev.currencies || []).find((x) => x.currency === c.currency), goals, p.prev.label)));
    const stages = currencies.filter((c) => c.by_stage && c.by_stage.length > 0);
    if (stages.length === 0) setSection('funnel', late ? 'ready' : 'empty', lateLine, empty(T.noFunnel));
    else setSection('funnel', 'ready', lateLine, ...stages.map(funnelOf));
  });
}

// forecastOf is a currency's forecast: the totals, and per rep closed and
// weighted, attainment of their target, and what they closed the period
// before. A rep with a target and nothing yet is listed too.
function forecastOf(c, prev, goals, prevLabel) {
  const cur = c.currency;
  const before = new Map(((prev && prev.by_rep) || []).map((r) => [r.rep, r.closed]));
  const rows = [...c.by_rep];
  for (const [rep, byCur] of goals) if (byCur.has(cur) && !rows.some((r) => r.rep === rep)) rows.push({ rep, closed: 0, weighted: 0, forecast: 0 });
  rows.sort((a, b) => b.forecast - a.forecast || repName(a.rep).localeCompare(repName(b.rep)));
  const target = (rep) => (goals.get(rep) && goals.get(rep).get(cur)) || 0;
  const teamTarget = Math.round(rows.reduce((s, r) => s + target(r.rep), 0) * 100) / 100;
  const reached = rows.reduce((s, r) => s + (target(r.rep) > 0 ? r.closed : 0), 0); // by the reps who have a target
  const max = Math.max(1, ...rows.map((r) => Math.max(r.closed + r.weighted, target(r.rep))));
  const pct = (a, b) => `${Math.round((100 * a) / b)}\u00a0%`;
  const prevClosed = (prev && prev.closed) || 0;
  return h('div', { class: 'currency' },
    h('div', { class: 'totals' },
      h('div', { class: 'total' }, h('span', { class: 'label' }, T.closed), fig(`forecast.${cur}.closed`, c.closed, money(c.closed, cur))),
      h('div', { class: 'total' }, h('span', { class: 'label' }, T.weightedPipeline), fig(`forecast.${cur}.weighted`, c.weighted, money(c.weighted, cur))),
      h('div', { class: 'total strong' }, h('span', { class: 'label' }, T.forecastIn(cur)), fig(`forecast.${cur}.forecast`, c.forecast, money(c.forecast, cur))),
      teamTarget > 0 ? h('div', { class: 'total' }, h('span', { class: 'label' }, T.targetReached(pct(reached, teamTarget))), fig(`forecast.${cur}.target`, teamTarget, money(teamTarget, cur))) : null,
      h('div', { class: 'total' }, h('span', { class: 'label' }, T.closedIn(prevLabel)), fig(`forecast.${cur}.previous`, prevClosed, money(prevClosed, cur)))),
    legend(['closed', T.closed], ['weighted', T.weighted], ['target', T.target]),
    h('ul', { class: 'rows', 'aria-label': T.forecastPerRep(cur) },
      rows.map((r) => h('li', { class: 'row', 'data-rep': r.rep },
        h('span', { class: 'name' }, repName(r.rep)),
        bar([[r.closed, 'closed'], [r.weighted, 'weighted']], max, { target: target(r.rep) || undefined }),
        h('span', { class: 'nums' },
          fill(T.repClosed, { closed: fig(`forecast.${cur}.rep.${r.rep}.closed`, r.closed, money(r.closed, cur)) }), ' · ',
          fill(T.repWeighted, { weighted: fig(`forecast.${cur}.rep.${r.rep}.weighted`, r.weighted, money(r.weighted, cur)) }),
          target(r.rep) > 0 ? [' · ', fill(T.repTarget, { pct: h('strong', {}, pct(r.closed, target(r.rep))), target: fig(`forecast.${cur}.rep.${r.rep}.target`, target(r.rep), money(target(r.rep), cur)) })] : '',
          ' · ', fill(T.repBefore(prevLabel), { before: fig(`forecast.${cur}.rep.${r.rep}.previous`, before.get(r.rep) || 0, money(before.get(r.rep) || 0, cur)) }))))));
}

function funnelOf(c) {
  const cur = c.currency;
  const max = Math.max(1, ...c.by_stage.map((s) => s.amount));
  return h('div', { class: 'currency' },
    h('h3', {}, cur),
    h('ul', { class: 'rows funnel', 'aria-label': T.funnelIn(cur) },
      c.by_stage.map((s) => h('li', { class: 'row' },
        h('span', { class: 'name' }, s.name),
        bar([[s.amount, 'stage']], max, { centered: true }),
        h('span', { class: 'nums' },
          fig(`funnel.${cur}.${s.stage}.count`, s.count, T.deals(s.count)), ' · ',
          fig(`funnel.${cur}.${s.stage}.amount`, s.amount, money(s.amount, cur)),
          s.stalled > 0
            ? h('span', { class: 'warn' }, ' · ', opener(`stalled.${cur}.${s.stage}`, { kind: 'stalled', stage: s.stage, currency: cur }, fig(`funnel.${cur}.${s.stage}.stalled`, s.stalled, T.nStalled(s.stalled))))
            : h('span', { class: 'quiet' }, ' · ', fig(`funnel.${cur}.${s.stage}.stalled`, 0, T.noneStalled)))))));
}

function showActivity(load, p) {
  return guarded(load, ['activity'], async () => {
    const rows = await all('rep_activity', { filter: `week >= ${quote(weekBefore(p.from))} && week <= ${quote(p.to)}` });
    if (load !== state.load) return;
    const byRep = new Map();
    const zero = () => ({ planned: 0, later: 0, done: 0, verified: 0, productive: 0, orders: 0, weeks: 0, lastSync: '' });
    for (const r of rows) {
      const a = byRep.get(r.rep) || zero();
      // done is compared with what was planned up to now; later visits are planned, not missed
      a.planned += r.visits_planned_to_date;
      a.later += r.visits_planned - r.visits_planned_to_date;
      a.done += r.visits_done;
      a.verified += Math.round((r.verified_pct * r.visits_done) / 100);
      a.productive += r.productive_visits;
      a.orders += r.orders;
      a.weeks++;
      if ((r.last_sync_at || '') > a.lastSync) a.lastSync = r.last_sync_at;
      byRep.set(r.rep, a);
    }
    const weeks = new Set(rows.map((r) => r.week)).size;
    $('activity-hint').textContent = weeks ? T.weeksHint(T.weeks(weeks)) : T.weeksHintNone;
    // every rep of the team, the ones who did nothing (and the inactive) included: they are who a
    // manager must see
    const reps = state.team.map((u) => [u.id, byRep.get(u.id) || zero()]);
    for (const [id, a] of byRep) if (!state.team.some((u) => u.id === id) && a.planned + a.done + a.orders > 0) reps.push([id, a]);
    if (weeks === 0 && rows.length === 0 && p.from > new Date().toISOString().slice(0, 10)) {
      setSection('activity', 'empty', empty(T.notStarted));
      return;
    }
    if (reps.length === 0) {
      setSection('activity', 'empty', empty(T.noReps));
      return;
    }
    // the last sync of a rep with no week in the period: their latest week says it
    await Promise.all(reps.filter(([, a]) => !a.lastSync).map(async ([rep, a]) => {
      const res = await api(`/api/collections/rep_activity/records?${new URLSearchParams({ filter: `rep = ${quote(rep)}`, sort: '-last_sync_at', perPage: '1', skipTotal: '1', fields: 'last_sync_at' })}`);
      a.lastSync = (res.items[0] && res.items[0].last_sync_at) || '';
    }));
    if (load !== state.load) return;
    reps.sort((x, y) => repName(x[0]).localeCompare(repName(y[0])));
    const max = Math.max(1, ...reps.map(([, a]) => Math.max(a.planned, a.done)));
    setSection('activity', 'ready',
      legend(['done', T.visitsDone], ['outline', T.planned]),
      h('ul', { class: 'rows', 'aria-label': T.activityTitle },
        reps.map(([rep, a]) => h('li', { class: 'row', 'data-rep': rep },
          h('span', { class: 'name' },
            opener(`customers.${rep}`, { kind: 'customers', rep }, repName(rep), T.openCustomersOf(repName(rep))),
            state.users.get(rep)?.active === false ? h('span', { class: 'muted' }, T.inactive) : '',
            a.planned + a.later + a.done + a.orders === 0 ? h('span', { class: 'warn' }, T.nothingThisPeriod) : '',
            h('span', { class: 'sync muted', 'data-last-sync': a.lastSync }, a.lastSync ? T.lastSync(ago(a.lastSync)) : T.noSync)),
          bar([[a.done, 'done']], max, { outline: a.planned }),
          h('span', { class: 'nums' },
            fill(T.visitsSoFar, { done: fig(`activity.${rep}.visits_done`, a.done), planned: fig(`activity.${rep}.visits_planned`, a.planned) }), ' · ',
            a.later > 0 ? [fill(T.morePlanned, { n: fig(`activity.${rep}.visits_planned_later`, a.later) }), ' · '] : '',
            fill(T.verifiedCheckins, { n: fig(`activity.${rep}.verified`, a.verified) }), ' · ',
            fill(T.withAnOrder, { n: fig(`activity.${rep}.productive_visits`, a.productive) }), ' · ',
            fig(`activity.${rep}.orders`, a.orders, T.orders(a.orders)))))));
  });
}

// tierOf is a tier's filter: C holds the customers no tier was given yet.
const tierOf = (tier) => (tier === 'C' ? "(tier = 'C' || tier = '')" : `tier = ${quote(tier)}`);

function showDue(load) {
  return guarded(load, ['due'], async () => {
    const rows = await all('visits_due', { fields: 'id,tier,days_overdue' });
    if (load !== state.load) return;
    if (rows.length === 0) {
      setSection('due', 'empty', empty(T.noneDue));
      return;
    }
    const tiers = ['A', 'B', 'C'];
    const cell = (tier, kind) => {
      const n = rows.filter((r) => (r.tier || 'C') === tier && (kind === 'overdue' ? r.days_overdue > 0 : r.days_overdue === 0)).length;
      const f = fig(`due.${tier}.${kind}`, n);
      return h('td', { class: n > 0 && kind === 'overdue' ? 'warn' : '' },
        n > 0 ? opener(`due.${tier}.${kind}`, { kind: 'due', tier, when: kind }, f, T.dueCell(kind, tier)) : f);
    };
    const overdue = rows.filter((r) => r.days_overdue > 0).length;
    setSection('due', 'ready',
      h('table', { class: 'tiers' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, T.tier), h('th', { scope: 'col' }, T.overdue), h('th', { scope: 'col' }, T.dueToday))),
        h('tbody', {}, tiers.map((t) => h('tr', {}, h('th', { scope: 'row' }, h('span', { class: `tier tier-${t}` }, t)), cell(t, 'overdue'), cell(t, 'today'))))),
      overdue > 0 ? h('p', { class: 'more' }, opener('due.all.overdue', { kind: 'due', when: 'overdue' }, T.everyOverdue(overdue))) : null);
  });
}

async function showTierHint(load) {
  try {
    const res = await api('/api/collections/company_settings/records?perPage=1&skipTotal=1');
    const s = res.items[0];
    if (load !== state.load || !s) return;
    const pct = (n) => new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 }).format(n);
    $('due-hint').textContent = T.tierHint(pct(s.tier_a_share), T.months(s.revenue_months), pct(s.tier_b_share));
  } catch {
    // the hint stays general
  }
}

function showFollowUps(load) {
  return guarded(load, ['followups'], async () => {
    const rows = await all('follow_ups', { filter: "status = 'open'", fields: 'id,due_at,assignee' });
    if (load !== state.load) return;
    if (rows.length === 0) {
      setSection('followups', 'empty', empty(T.noFollowUps));
      return;
    }
    const overdue = (f) => f.due_at < state.now;
    const byRep = new Map();
    for (const f of rows) {
      const a = byRep.get(f.assignee) || { open: 0, overdue: 0 };
      a.open++;
      if (overdue(f)) a.overdue++;
      byRep.set(f.assignee, a);
    }
    const late = rows.filter(overdue).length;
    const reps = [...byRep.entries()].sort((x, y) => repName(x[0]).localeCompare(repName(y[0])));
    const link = (key, spec, f, n) => (n > 0 ? opener(key, spec, f) : f);
    setSection('followups', 'ready',
      h('p', { class: 'totals-line' },
        link('followups.open', { kind: 'followups' }, fig('followups.open', rows.length, T.openFollowUps(rows.length)), rows.length), T.comma,
        h('span', { class: late ? 'warn' : '' }, link('followups.overdue', { kind: 'followups', overdue: true }, fig('followups.overdue', late, T.nOverdue(late)), late))),
      h('ul', { class: 'rows compact', 'aria-label': T.followUpsPerRep }, reps.map(([rep, a]) => h('li', { class: 'row', 'data-rep': rep },
        h('span', { class: 'name' }, repName(rep)),
        bar([[a.overdue, 'late'], [a.open - a.overdue, 'open']], Math.max(...reps.map(([, b]) => b.open))),
        h('span', { class: 'nums' },
          link(`followups.${rep}.open`, { kind: 'followups', rep }, fig(`followups.${rep}.open`, a.open, T.nOpen(a.open)), a.open), ' · ',
          link(`followups.${rep}.overdue`, { kind: 'followups', rep, overdue: true }, fig(`followups.${rep}.overdue`, a.overdue, T.nOverdue(a.overdue)), a.overdue))))));
  });
}

// ---------------------------------------------------------------------------
// Lists: every number opens the records behind it, paged, sortable and
// exported as CSV, read with the manager's token (the policy decides)

const LIST_PAGE = 25;

// total is how many records of a collection a filter finds.
async function total(collection, filter) {
  const res = await api(`/api/collections/${collection}/records?${new URLSearchParams({ filter, perPage: '1', fields: 'id' })}`);
  return res.totalItems;
}

const cust = (r) => (r.expand && r.expand.customer && r.expand.customer.name) || '';
const ownerName = (r, field) => (r.expand && r.expand[field] && r.expand[field].name) || repName(r[field]);
const daysSince = (iso) => (iso ? Math.max(0, Math.floor((Date.now() - new Date(iso.replace(' ', 'T')).getTime()) / 86400000)) : 0);
const dealColumns = [
  { label: T.col.deal, value: (r) => r.title, sort: 'title' },
  { label: T.col.customer, value: cust, customer: (r) => r.customer },
  { label: T.col.rep, value: (r) => ownerName(r, 'owner'), rep: true },
  { label: T.col.amount, value: (r) => money(r.amount, r.currency), csv: (r) => r.amount, sort: 'amount', num: true },
  { label: T.col.currency, value: (r) => r.currency, csvOnly: true },
  { label: T.col.stage, value: (r) => (r.expand && r.expand.stage && r.expand.stage.name) || '' },
  { label: T.col.daysInStage, value: (r) => daysSince(r.stage_entered_at), sort: '-stage_entered_at', num: true },
  { label: T.col.expectedClose, value: (r) => day(r.expected_close), csv: (r) => (r.expected_close || '').slice(0, 10), sort: 'expected_close' },
];
const dealFields = 'id,title,customer,owner,amount,currency,stage,stage_entered_at,expected_close,expand.customer.name,expand.owner.name,expand.stage.name';

// LISTS: each kind of list, from what opened it to its query and columns.
const LISTS = {
  stalled: (o) => {
    const st = state.stages.get(o.stage) || { name: T.aStage, max_days: 0 };
    const cutoff = pbDate(new Date(Date.now() - st.max_days * 86400000));
    const r = state.report || {};
    return {
      title: T.stalledTitle(st.name, o.currency),
      hint: T.stalledHint(T.days(st.max_days), st.name),
      collection: 'opportunities', repField: 'owner', columns: dealColumns, fields: dealFields, expand: 'customer,owner,stage',
      filter: `stage = ${quote(o.stage)} && currency = ${quote(o.currency)} && expected_close >= ${quote(r.start)} && expected_close < ${quote(r.end)} && stage_entered_at != '' && stage_entered_at < ${quote(cutoff)}`,
      sort: 'stage_entered_at', noun: 'deals',
    };
  },
  late: () => ({
    title: T.lateTitle,
    hint: T.lateHint,
    collection: 'opportunities', repField: 'owner', columns: dealColumns, fields: dealFields, expand: 'customer,owner,stage',
    filter: `stage.outcome = 'open' && expected_close != '' && expected_close < ${quote(pbDate(startOfToday()))}`,
    sort: 'expected_close', noun: 'deals',
  }),
  due: (o) => ({
    title: T.dueListTitle(o.when, o.tier),
    hint: T.dueListHint(o.when),
    collection: 'visits_due', repField: 'owner', expand: 'customer,owner', fields: 'id,tier,days_overdue,next_visit_due,last_visit_at,owner,expand.customer.name,expand.owner.name',
    filter: [o.tier ? tierOf(o.tier) : '', o.when === 'overdue' ? 'days_overdue > 0' : 'days_overdue = 0'].filter(Boolean).join(' && '),
    sort: '-days_overdue', noun: 'customers',
    columns: [
      { label: T.col.customer, value: cust, customer: (r) => r.id },
      { label: T.col.tier, value: (r) => r.tier || 'C', sort: 'tier' },
      { label: T.col.rep, value: (r) => ownerName(r, 'owner'), rep: true },
      { label: T.col.lastVisit, value: (r) => day(r.last_visit_at), csv: (r) => (r.last_visit_at || '').slice(0, 10), sort: 'last_visit_at' },
      { label: T.col.due, value: (r) => day(r.next_visit_due), csv: (r) => (r.next_visit_due || '').slice(0, 10), sort: 'next_visit_due' },
      { label: T.col.daysOverdue, value: (r) => r.days_overdue, sort: '-days_overdue', num: true },
    ],
  }),
  followups: (o) => ({
    title: T.followUpsListTitle(o.overdue, o.rep ? repName(o.rep) : ''),
    hint: T.followUpsListHint(o.overdue),
    collection: 'follow_ups', repField: 'assignee', expand: 'customer,assignee,promised_by', fields: 'id,note,due_at,customer,assignee,promised_by,expand.customer.name,expand.assignee.name,expand.promised_by.name',
    filter: ["status = 'open'", o.overdue ? `due_at < ${quote(state.now)}` : ''].filter(Boolean).join(' && '),
    sort: 'due_at', noun: 'followUps', rep: o.rep,
    columns: [
      { label: T.col.customer, value: cust, customer: (r) => r.customer },
      { label: T.col.promise, value: (r) => r.note || T.followUp },
      { label: T.col.heldBy, value: (r) => ownerName(r, 'assignee'), rep: true },
      { label: T.col.promisedBy, value: (r) => (r.promised_by ? ownerName(r, 'promised_by') : ownerName(r, 'assignee')) },
      { label: T.col.due, value: (r) => day(r.due_at), csv: (r) => (r.due_at || '').slice(0, 10), sort: 'due_at' },
    ],
  }),
  customers: (o) => ({
    title: o.q ? T.matching(o.q) : T.customersOf(repName(o.rep)),
    hint: o.q ? T.matchingHint : (state.users.get(o.rep)?.active === false ? T.hasLeft(repName(o.rep)) : T.tickHint),
    collection: 'customers', repField: 'owner', expand: 'owner', fields: 'id,name,tier,address,owner,last_visit_at,next_visit_due,expand.owner.name',
    filter: o.q ? `(name ~ ${quote(o.q)} || owner.name ~ ${quote(o.q)})` : '',
    sort: 'name', noun: 'customers', rep: o.rep, selectable: true,
    empty: o.q ? T.noMatch(o.q) : T.holdsNone(repName(o.rep)),
    columns: [
      { label: T.col.customer, value: (r) => r.name, customer: (r) => r.id, sort: 'name' },
      { label: T.col.tier, value: (r) => r.tier || 'C', sort: 'tier' },
      { label: T.col.address, value: (r) => r.address || '' },
      { label: T.col.rep, value: (r) => ownerName(r, 'owner'), rep: true },
      { label: T.col.lastVisit, value: (r) => day(r.last_visit_at), csv: (r) => (r.last_visit_at || '').slice(0, 10), sort: 'last_visit_at' },
      { label: T.col.nextVisitDue, value: (r) => day(r.next_visit_due), csv: (r) => (r.next_visit_due || '').slice(0, 10), sort: 'next_visit_due' },
    ],
  }),
};

let list = null; // the open list: { key, opts, spec, page, sort, rep, selected, seq }

// opener makes a figure a button that opens its list.
function opener(key, opts, child, label) {
  return h('button', { type: 'button', class: 'link opener', 'data-list': key, title: label || null, onclick: () => openList(key, opts) }, child);
}

function openList(key, opts) {
  const spec = LISTS[opts.kind](opts);
  list = { key, opts, spec, page: 1, sort: spec.sort, rep: opts.rep || '', selected: new Set(), seq: 0 };
  const card = $('list');
  card.hidden = false;
  loadList().then(() => card.scrollIntoView({ block: 'start' }));
}

function listFilter() {
  const parts = [list.spec.filter];
  if (list.rep) parts.push(`${list.spec.repField} = ${quote(list.rep)}`);
  return parts.filter(Boolean).join(' && ');
}

async function loadList(notice) {
  const card = $('list');
  const seq = ++list.seq;
  const { spec } = list;
  card.dataset.state = 'loading';
  card.dataset.list = list.key;
  $('list-title').textContent = spec.title;
  $('list-hint').textContent = spec.hint;
  const body = card.querySelector('.body');
  if (!body.querySelector('table')) body.replaceChildren(loading(spec.noun));
  try {
    const q = new URLSearchParams({ page: String(list.page), perPage: String(LIST_PAGE), sort: `${list.sort},id`, expand: spec.expand, fields: spec.fields });
    const filter = listFilter();
    if (filter) q.set('filter', filter);
    const res = await api(`/api/collections/${spec.collection}/records?${q}`);
    if (seq !== list.seq) return;
    if (res.items.length === 0 && list.page > 1) {
      list.page = Math.max(1, res.totalPages);
      return loadList(notice);
    }
    renderList(res, notice);
  } catch (err) {
    if (seq !== list.seq) return;
    card.dataset.state = 'error';
    body.replaceChildren(h('p', { class: 'error' }, err.message));
    if (err.status === 0) showBanner(err.message, () => loadList());
  }
}

function renderList(res, notice) {
  const card = $('list');
  const { spec } = list;
  // one rep's list needs no rep column
  const cols = spec.columns.filter((c) => !c.csvOnly && !(list.rep && c.rep));
  const reps = [...state.team].sort((a, b) => repName(a.id).localeCompare(repName(b.id)));
  const repSelect = h('select', { id: 'list-rep', 'aria-label': T.rep, onchange: (e) => { list.rep = e.target.value; list.page = 1; list.selected.clear(); loadList(); } },
    h('option', { value: '' }, T.everyRep), reps.map((u) => h('option', { value: u.id }, repName(u.id) + (u.active ? '' : T.inactive))));
  repSelect.value = list.rep;
  const head = cols.map((c) => {
    if (!c.sort) return h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label);
    const on = list.sort === c.sort ? 'ascending' : list.sort === flip(c.sort) ? 'descending' : null;
    return h('th', { scope: 'col', class: c.num ? 'num' : '', 'aria-sort': on },
      h('button', { type: 'button', class: 'link sort', 'data-sort': c.sort, onclick: () => { list.sort = list.sort === c.sort ? flip(c.sort) : c.sort; list.page = 1; loadList(); } },
        c.label, on ? (on === 'ascending' ? ' ▲' : ' ▼') : ''));
  });
  const check = (r) => h('input', { type: 'checkbox', 'data-select': r.id, 'aria-label': T.selectRow(spec.columns[0].value(r)), checked: list.selected.has(r.id),
    onchange: (e) => { if (e.target.checked) list.selected.add(r.id); else list.selected.delete(r.id); bulkBar(res.totalItems); } });
  const rows = res.items.map((r) => h('tr', { 'data-id': r.id },
    spec.selectable ? h('td', { class: 'pick' }, check(r)) : null,
    cols.map((c, i) => {
      const v = c.value(r);
      const text = v === undefined || v === null || v === '' ? '—' : String(v);
      const cell = c.customer ? h('button', { type: 'button', class: 'link', onclick: () => openCustomer(c.customer(r)) }, text) : text;
      return h(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: c.num ? 'num' : '', 'data-label': c.label }, cell);
    })));
  const pages = Math.max(1, res.totalPages);
  card.dataset.state = res.totalItems ? 'ready' : 'empty';
  card.dataset.total = String(res.totalItems);
  card.dataset.page = String(list.page);
  card.dataset.pages = String(pages);
  card.querySelector('.body').replaceChildren(...[
    h('div', { class: 'list-tools' },
      h('label', {}, T.rep, ' ', repSelect),
      h('span', { class: 'count' }, T[spec.noun](res.totalItems)),
      h('button', { type: 'button', id: 'list-csv', class: 'secondary', disabled: res.totalItems === 0, onclick: exportList }, T.downloadCSV)),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    spec.selectable ? h('div', { id: 'bulk', class: 'bulk' }) : null,
    res.totalItems === 0 ? empty(spec.empty || T.nothingHere) : h('div', { class: 'table-wrap' },
      h('table', { class: 'records' },
        h('thead', {}, h('tr', {}, spec.selectable ? h('th', { scope: 'col', class: 'pick' }, h('input', { type: 'checkbox', id: 'select-page', 'aria-label': T.selectPage,
          checked: res.items.length > 0 && res.items.every((r) => list.selected.has(r.id)),
          onchange: (e) => { for (const r of res.items) { if (e.target.checked) list.selected.add(r.id); else list.selected.delete(r.id); } renderList(res); } })) : null, head)),
        h('tbody', {}, rows))),
    pages > 1 ? h('nav', { class: 'pager', 'aria-label': T.pages },
      h('button', { type: 'button', id: 'list-prev', class: 'secondary', disabled: list.page <= 1, onclick: () => { list.page--; loadList(); } }, T.previous),
      h('span', {}, T.pageOf(list.page, pages)),
      h('button', { type: 'button', id: 'list-next', class: 'secondary', disabled: list.page >= pages, onclick: () => { list.page++; loadList(); } }, T.next)) : null,
  ].filter(Boolean));
  if (spec.selectable) bulkBar(res.totalItems);
}

const flip = (sort) => (sort.startsWith('-') ? sort.slice(1) : '-' + sort);

// bulkBar offers to hand the ticked customers, or every customer of the
// chosen rep, to another active rep of the team: one request, all or none.
function bulkBar(totalItems) {
  const bar = $('bulk');
  if (!bar) return;
  const from = list.rep && state.users.get(list.rep);
  const mine = from && from.manager === state.user.id;
  const n = list.selected.size;
  const targets = state.team.filter((u) => u.active && u.id !== list.rep);
  if (n === 0 && !mine) {
    bar.replaceChildren(h('span', { class: 'muted' }, T.tickOrChoose));
    return;
  }
  if (targets.length === 0) {
    bar.replaceChildren(h('span', { class: 'muted' }, T.noOtherRepBulk));
    return;
  }
  const select = h('select', { id: 'bulk-to', 'aria-label': T.repTakesMany },
    h('option', { value: '' }, T.chooseRep), targets.map((u) => h('option', { value: u.id }, repName(u.id))));
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const confirmBox = h('div', { class: 'confirm', hidden: true });
  const ask = (what, body, label) => () => {
    error.hidden = true;
    if (!select.value) {
      error.textContent = T.chooseRepMany;
      error.hidden = false;
      return;
    }
    const to = state.users.get(select.value);
    confirmBox.replaceChildren(
      h('p', {}, T.handManyConfirm(what, to.name)),
      h('button', { type: 'button', id: 'bulk-confirm', onclick: () => bulkHandOver({ ...body, to: to.id }, to, error, confirmBox) }, label(to.name)),
      h('button', { type: 'button', class: 'link', onclick: () => { confirmBox.hidden = true; } }, T.cancel));
    confirmBox.hidden = false;
    confirmBox.querySelector('button').focus();
  };
  bar.replaceChildren(...[
    h('label', {}, T.handTo, ' ', select),
    n > 0 ? h('button', { type: 'button', id: 'bulk-selected', onclick: ask(T.customers(n), { customers: [...list.selected] }, (to) => T.handNTo(n, to)) }, T.handOverTicked(n)) : null,
    mine && totalItems > 0 ? h('button', { type: 'button', id: 'bulk-all', class: n > 0 ? 'secondary' : '', onclick: ask(T.allOf(totalItems, repName(list.rep)), { from: list.rep }, (to) => T.handAllTo(totalItems, to)) }, T.handOverAll(totalItems)) : null,
    confirmBox, error].filter(Boolean)); // a null child would print "null"
}

async function bulkHandOver(body, to, error, confirmBox) {
  const buttons = confirmBox.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await api('/api/manager/hand-over', { method: 'POST', body });
    list.selected.clear();
    await loadList(T.bulkDone(res.count, to.name));
    loadAll();
  } catch (err) {
    buttons.forEach((b) => { b.disabled = false; });
    error.textContent = err.message;
    error.hidden = false;
  }
}

// exportList downloads every row of the open list (not only the page) as
// CSV, with the same filter and order.
async function exportList() {
  const button = $('list-csv');
  button.disabled = true;
  button.textContent = T.preparing;
  try {
    const { spec } = list;
    const filter = listFilter();
    const rows = await all(spec.collection, { sort: `${list.sort},id`, expand: spec.expand, fields: spec.fields, ...(filter ? { filter } : {}) });
    const cols = spec.columns;
    const lines = [[...cols.map((c) => c.label), T.col.id], ...rows.map((r) => [...cols.map((c) => (c.csv ? c.csv(r) : c.value(r))), r.id])];
    const csv = '\ufeff' + lines.map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
    const a = h('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' })), download: `rounds-${list.key.replace(/[^A-Za-z0-9.-]+/g, '-')}-${iso(new Date())}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    showBanner(err.message, exportList);
  } finally {
    button.disabled = false;
    button.textContent = T.downloadCSV;
  }
}

// csvCell quotes a cell (RFC 4180) and defuses a text a spreadsheet would
// run as a formula.
function csvCell(v) {
  let s = v === undefined || v === null ? '' : String(v);
  if (typeof v !== 'number' && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// ---------------------------------------------------------------------------
// Customers: search, timeline, hand-over

let searchTimer = 0;

function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 250);
}

function search() {
  const q = $('search').value.trim();
  if (!q) {
    if (list && list.opts.q) $('list').hidden = true;
    return;
  }
  const spec = { kind: 'customers', q };
  if (list && list.opts.q !== undefined && !$('list').hidden) {
    list = { ...list, opts: spec, spec: LISTS.customers(spec), page: 1, selected: new Set() };
    loadList();
  } else {
    openList('search', spec);
  }
}

const TIMELINE_FIELDS = 'id,at,kind,summary,user,holder,title,detail,status,amount,currency,due,expand.user.name,expand.holder.name';

async function openCustomer(id) {
  const panel = $('customer');
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.replaceChildren(loading('customer'));
  panel.scrollIntoView({ block: 'start' });
  try {
    const [c, timeline] = await Promise.all([
      api(`/api/collections/customers/records/${encodeURIComponent(id)}?expand=owner`),
      all('customer_timeline', { filter: `customer = ${quote(id)}`, sort: '-at,id', expand: 'user,holder', fields: TIMELINE_FIELDS }),
    ]);
    renderCustomer(c, timeline);
    panel.scrollIntoView({ block: 'start' });
  } catch (err) {
    panel.dataset.state = 'error';
    panel.replaceChildren(h('p', { class: 'error' }, err.status === 404 ? T.notTeamCustomer : err.message));
  }
}

function renderCustomer(c, timeline, notice) {
  const panel = $('customer');
  const owner = (c.expand && c.expand.owner && c.expand.owner.name) || repName(c.owner);
  const others = state.team.filter((u) => u.id !== c.owner && u.active);
  const form = handOverForm(c, others);
  const now = pbDate(new Date());
  const coming = timeline.filter((t) => t.at > now).reverse(); // soonest first
  const past = timeline.filter((t) => t.at <= now);
  panel.dataset.state = 'ready';
  panel.dataset.customer = c.id;
  panel.replaceChildren(...[
    h('div', { class: 'customer-head' },
      h('h3', {}, h('span', { class: `tier tier-${c.tier || 'C'}` }, c.tier || 'C'), ' ', c.name),
      h('button', { type: 'button', class: 'link close', onclick: () => { panel.hidden = true; } }, T.close)),
    h('p', { class: 'facts' },
      h('span', {}, T.repIs, h('strong', { id: 'customer-owner', 'data-owner': c.owner }, owner)),
      c.address ? h('span', {}, ` · ${c.address}`) : null,
      h('span', {}, T.lastVisitOn(day(c.last_visit_at))),
      h('span', {}, T.nextVisitOn(day(c.next_visit_due)))),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form,
    coming.length ? h('h4', {}, T.comingUp) : null,
    coming.length ? timelineOf(coming, TIMELINE_FIRST) : null,
    h('h4', {}, T.history),
    past.length === 0 ? empty(T.nothingYet) : timelineOf(past, TIMELINE_FIRST),
  ].filter(Boolean));
}

const TIMELINE_FIRST = 30; // events shown before "Show all"

// word is a table's word for a value the server wrote, or the fallback
// (a value is data: "constructor" must not find Object's).
const word = (table, key, fallback) => (Object.hasOwn(table, key || '') ? table[key] : fallback);

// eventText is an event in words, from its parts, in the reader's formats.
function eventText(t) {
  const by = (t.expand && t.expand.user && t.expand.user.name) || '';
  const holder = (t.expand && t.expand.holder && t.expand.holder.name) || '';
  const field = word(T.fields, t.title, (t.title || '').replace(/_/g, ' '));
  switch (t.kind) {
    case 'visit':
      return { main: t.status === 'planned' ? T.visitPlanned(t.title) : T.visited(t.title), detail: t.detail, by };
    case 'follow_up': {
      const status = word(T.promiseStatus, t.status === 'open' && t.due && t.due < pbDate(new Date()) ? 'overdue' : t.status, t.status);
      return { main: t.title || T.followUp, detail: T.dueStatus(day(t.due), status), by: by ? T.promisedBy(by, holder && holder !== by ? holder : '') : '', promiser: by };
    }
    case 'order':
      return { main: T.orderEvent(word(T.orderStatus, t.status, t.status), money(t.amount, t.currency)), detail: t.detail, by };
    case 'opportunity':
      return { main: `${t.title}: ${t.detail} · ${money(t.amount, t.currency)}`, detail: t.status === 'won' ? T.won : t.status === 'lost' ? T.lost : '', by };
    case 'care_message':
      return { main: T.careTo(word(T.careKinds, t.detail, t.detail), t.title), detail: word(T.careStatus, t.status, t.status), by };
    case 'conflict': {
      const kept = word(T.conflictKept, t.status, T.conflictKept.other)(field, t.detail);
      return { main: T.twoEdits(kept), detail: '', by };
    }
    default:
      return { main: serverWords(t.summary || ''), detail: '', by };
  }
}

// serverWords puts the server's words for a hand-over or a tier change in
// the page's language, with their sums in the reader's format; other words
// stay as the server wrote them.
function serverWords(text) {
  let m = /^handed from (.+) to (.+)$/.exec(text);
  if (m) return T.handedFrom(m[1], m[2]);
  m = /^tier (\S+) → (\S+) \(revenue (\d+(?:\.\d+)?) ([A-Z]{3}) over (\d+) months\)$/.exec(text);
  if (m) return T.tierChanged(m[1] === 'none' ? T.noTier : m[1], m[2], money(Number(m[3]), m[4]), T.months(Number(m[5])));
  return text.replace(/\b(\d+(?:\.\d+)?) ([A-Z]{3})\b/g, (_, n, cur) => money(Number(n), cur));
}

function timelineOf(events, limit) {
  const ol = h('ol', { class: 'timeline' }, events.slice(0, limit).map((t) => {
    const e = eventText(t);
    return h('li', { 'data-kind': t.kind, 'data-id': t.id, 'data-promiser': e.promiser || null },
      h('time', { datetime: (t.at || '').replace(' ', 'T') }, day(t.at)),
      h('div', {},
        h('span', { class: `kind kind-${t.kind}` }, word(T.kinds, t.kind, t.kind.replace(/_/g, ' '))),
        h('p', { class: 'summary' }, e.main),
        e.detail ? h('p', { class: 'detail muted' }, e.detail) : null,
        e.by ? h('span', { class: 'by muted' }, e.by) : null));
  }));
  if (events.length <= limit) return ol;
  const wrap = h('div', {}, ol);
  wrap.append(h('button', { type: 'button', class: 'link more', onclick: () => wrap.replaceWith(timelineOf(events, events.length)) },
    T.showAll(events.length)));
  return wrap;
}

function handOverForm(c, others) {
  if (c.owner && state.users.get(c.owner) && state.users.get(c.owner).manager !== state.user.id) {
    return h('p', { class: 'muted' }, T.yoursNotRep);
  }
  if (others.length === 0) return h('p', { class: 'muted' }, T.noOtherRep);
  const select = h('select', { id: 'handover-to', 'aria-label': T.repTakesOne },
    h('option', { value: '' }, T.chooseRep), others.map((u) => h('option', { value: u.id }, u.name || u.email)));
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const confirmBox = h('div', { class: 'confirm', hidden: true });
  const button = h('button', { type: 'button', id: 'handover' }, T.handOver);
  button.addEventListener('click', () => {
    error.hidden = true;
    if (!select.value) {
      error.textContent = T.chooseRepOne;
      error.hidden = false;
      return;
    }
    const to = state.users.get(select.value);
    confirmBox.replaceChildren(
      h('p', {}, T.handOneConfirm(c.name, to.name)),
      h('button', { type: 'button', id: 'handover-confirm', onclick: () => handOver(c, to, error, confirmBox) }, T.handOneTo(to.name)),
      h('button', { type: 'button', class: 'link', onclick: () => { confirmBox.hidden = true; } }, T.cancel));
    confirmBox.hidden = false;
    confirmBox.scrollIntoView({ block: 'nearest' });
    confirmBox.querySelector('button').focus();
  });
  return h('div', { class: 'handover' },
    h('label', {}, T.handOverTo, ' ', select), button, confirmBox, error);
}

async function handOver(c, to, error, confirmBox) {
  const buttons = confirmBox.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await api('/api/manager/hand-over', { method: 'POST', body: { customer: c.id, to: to.id } });
    const [fresh, timeline] = await Promise.all([
      api(`/api/collections/customers/records/${encodeURIComponent(c.id)}?expand=owner`),
      all('customer_timeline', { filter: `customer = ${quote(c.id)}`, sort: '-at,id', expand: 'user,holder', fields: TIMELINE_FIELDS }),
    ]);
    renderCustomer(fresh, timeline, T.handOneDone(c.name, to.name));
    if (list && !$('list').hidden) loadList();
    loadAll();
  } catch (err) {
    buttons.forEach((b) => { b.disabled = false; });
    error.textContent = err.message;
    error.hidden = false;
  }
}

// ---------------------------------------------------------------------------
// The map: the team's customers and the period's check-ins (Leaflet,
// vendored; tiles from the server's ROUNDS_MAP_TILES). Markers are vector
// shapes, so the map shows them even when no tile loads.

const TIER_COLOR = { A: '#1f5fbf', B: '#6f9be0', C: '#9aa5b4' };
const mapState = { map: null, customers: null, checkins: null, config: null, tileErrors: 0 };

// located: 0, 0 (or nothing) is no location, not a point in the Gulf of Guinea.
const located = (lat, lng) => Number.isFinite(lat) && Number.isFinite(lng) && (lat !== 0 || lng !== 0);

function setMapNote(text) {
  const note = $('map-note');
  note.textContent = text;
  note.hidden = !text;
}

function ensureMap() {
  if (mapState.map || typeof L === 'undefined') return mapState.map;
  const map = L.map('map', { worldCopyJump: true, zoomSnap: 0.5 });
  const c = mapState.config;
  const tiles = L.tileLayer(c.tiles, { attribution: c.attribution, maxZoom: 19, subdomains: 'abc', crossOrigin: false });
  tiles.on('tileerror', () => {
    if (mapState.tileErrors++ === 0) setMapNote(T.tilesFailed);
  });
  tiles.on('tileload', () => { $('map').dataset.tiles = 'loaded'; });
  tiles.addTo(map);
  mapState.customers = L.layerGroup().addTo(map);
  mapState.checkins = L.layerGroup().addTo(map);
  const toggle = (id, layer) => $(id).addEventListener('change', (e) => (e.target.checked ? layer.addTo(map) : layer.remove()));
  toggle('map-show-customers', mapState.customers);
  toggle('map-show-checkins', mapState.checkins);
  mapState.map = map;
  return map;
}

function popup(title, lines, customer) {
  return h('div', { class: 'map-popup' }, h('strong', {}, title), lines.filter(Boolean).map((l) => h('div', {}, l)),
    customer ? h('button', { type: 'button', onclick: () => openCustomer(customer) }, T.openCustomer) : null);
}

function showMap(load, p) {
  return guarded(load, ['map-card'], async () => {
    const start = pbDate(new Date(...p.from.split('-').map((v, i) => Number(v) - (i === 1 ? 1 : 0))));
    const [y, m, d] = p.to.split('-').map(Number);
    const end = pbDate(new Date(y, m - 1, d + 1));
    const [config, customers, visits] = await Promise.all([
      mapState.config || fetch('map-config.json').then((r) => (r.ok ? r.json() : Promise.reject(new ApiError(r.status, T.mapSettingsFailed)))),
      all('customers', { fields: 'id,name,tier,lat,lng,owner,next_visit_due,expand.owner.name', expand: 'owner' }),
      all('visits', { filter: `checked_in_at >= ${quote(start)} && checked_in_at < ${quote(end)}`, expand: 'customer,rep', fields: 'id,checked_in_at,check_in_lat,check_in_lng,geo_status,customer,rep,expand.customer.name,expand.rep.name' }),
    ]);
    if (load !== state.load) return;
    mapState.config = config;
    const today = pbDate(startOfToday());
    const placed = customers.filter((c) => located(c.lat, c.lng));
    const overdue = placed.filter((c) => c.next_visit_due && c.next_visit_due < today).length;
    const checkins = visits.filter((v) => located(v.check_in_lat, v.check_in_lng));
    const verified = checkins.filter((v) => v.geo_status === 'verified').length;
    setSection('map-card', 'ready',
      h('p', { class: 'totals-line' },
        fill(T.onTheMap, { customers: fig('map.customers', placed.length, T.customers(placed.length)), overdue: fig('map.overdue', overdue, T.nOverdue(overdue)) }),
        customers.length > placed.length ? [T.comma, fig('map.unplaced', customers.length - placed.length, T.withoutLocation(customers.length - placed.length))] : '',
        ' · ', fill(T.inPeriod, { checkins: fig('map.checkins', checkins.length, T.checkins(checkins.length)), verified: fig('map.checkins_verified', verified, T.atShopN(verified)) })),
      legend(['tier-A-dot', 'A'], ['tier-B-dot', 'B'], ['tier-C-dot', 'C'], ['overdue-dot', T.overdue], ['verified-dot', T.checkinAtShop], ['away-dot', T.awayOrUnknown]));
    const map = ensureMap();
    if (!map) {
      setMapNote(T.cannotDraw);
      return;
    }
    mapState.customers.clearLayers();
    mapState.checkins.clearLayers();
    const points = [];
    for (const c of placed) {
      const tier = c.tier || 'C';
      const late = c.next_visit_due && c.next_visit_due < today;
      L.circleMarker([c.lat, c.lng], {
        radius: { A: 8, B: 6.5, C: 5 }[tier], color: late ? '#b3261e' : '#ffffff', weight: late ? 3 : 1.5,
        fillColor: TIER_COLOR[tier], fillOpacity: 0.9, className: `m-customer tier-${tier}${late ? ' overdue' : ''}`,
      }).bindPopup(popup(c.name, [T.tierOwner(tier, ownerName(c, 'owner')), late ? T.overdueSince(day(c.next_visit_due)) : T.nextVisitDueOn(day(c.next_visit_due))], c.id))
        .addTo(mapState.customers);
      points.push([c.lat, c.lng]);
    }
    for (const v of checkins) {
      const ok = v.geo_status === 'verified';
      L.circleMarker([v.check_in_lat, v.check_in_lng], {
        radius: 3.5, color: ok ? '#1c5133' : '#8a5a00', weight: 1, fillColor: ok ? '#2e7d4f' : '#f0b429', fillOpacity: 1,
        className: `m-checkin${ok ? ' verified' : ''}`,
      }).bindPopup(popup(cust(v) || T.aCustomer, [T.checkinOn(day(v.checked_in_at), ownerName(v, 'rep')), ok ? T.atTheShop : (v.geo_status === 'far' ? T.awayFromShop : T.placeUnknown)], v.customer))
        .addTo(mapState.checkins);
      points.push([v.check_in_lat, v.check_in_lng]);
    }
    map.invalidateSize();
    if (points.length) map.fitBounds(points, { padding: [24, 24], maxZoom: 14 });
    else map.setView([20, 0], 2);
    if (!points.length) setMapNote(T.noLocations);
    else if (!mapState.tileErrors) setMapNote('');
    $('map').dataset.customers = String(placed.length);
    $('map').dataset.checkins = String(checkins.length);
  });
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

// translatePage writes the page's fixed words in its language; the switch
// keeps the other language in this browser and reloads (the sign-in stays).
function translatePage() {
  document.documentElement.lang = LANG;
  document.title = T.htmlTitle;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = T[el.dataset.t];
  for (const el of document.querySelectorAll('[data-t-placeholder]')) el.placeholder = T[el.dataset.tPlaceholder];
  for (const el of document.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', T[el.dataset.tLabel]);
  const other = LANG === 'en' ? 'zh-CN' : 'en';
  const button = $('lang');
  button.lang = other;
  button.setAttribute('aria-label', T.otherLanguageLabel);
  button.addEventListener('click', () => {
    try { localStorage.setItem(LANG_KEY, other); } catch { /* private mode: this page only */ }
    location.reload();
  });
}

document.addEventListener('DOMContentLoaded', () => {
  translatePage();
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
  $('list-close').addEventListener('click', () => { $('list').hidden = true; list = null; });
  resume();
});
