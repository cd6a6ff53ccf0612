// Rounds · the reps' app. Everything a screen shows comes from the phone's
// own WatermelonDB database, so every screen works offline; the sync is
// README's client as printed (bundled from README.md, see build.mjs).
import { roundsSync } from 'rounds-sync'
import qrcode from 'qrcode-generator'
import { t, lang, switchLanguage } from './strings.js'
import { celebratedOn, validBirthday } from './calendar.js'
import { MIGRATED_FROM, Q, create, find, live, loadSchema, openDatabase, unsynced, update } from './db.js'

const BASE = location.origin
const SESSION_KEY = 'rounds_session'
const DEVICE_KEY = 'rounds_device'
const SYNC_EVERY = 5 * 60 * 1000
const DAY = 86400000

const app = { session: null, schema: null, db: null, sync: null, tables: [], status: {}, timer: 0, backoff: 0 }

// ---------------------------------------------------------------------------
// DOM

const $ = (id) => document.getElementById(id)

function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue
    el.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return el
}

// show puts a screen up. When it replaces the same screen (a sync finished,
// or the rep acted elsewhere on it), what the rep typed and has not saved is
// carried over to the new screen with the caret: a field counts as typed from
// its first input until its own save marks it clean. Nothing typed is lost
// to a re-render.
function show(...nodes) {
  const main = $('main')
  const same = main.dataset.shown === location.hash
  const typed = same ? [...main.querySelectorAll('[data-typed]')].map((el) => ({ key: fieldKey(el), el })).filter((x) => x.key) : []
  const active = same && main.contains(document.activeElement) ? fieldKey(document.activeElement) : ''
  main.replaceChildren(...nodes)
  main.dataset.shown = location.hash
  for (const { key, el } of typed) {
    const to = main.querySelector(key)
    if (!to || to.tagName !== el.tagName) continue
    if (el.type === 'checkbox' || el.type === 'radio') to.checked = el.checked
    else to.value = el.value
    to.dataset.typed = '1'
    if (!el.hidden) to.hidden = false
    to.dispatchEvent(new Event('input', { bubbles: true }))
  }
  const focus = active && main.querySelector(active)
  if (focus) {
    focus.focus()
    if (typeof focus.selectionStart === 'number' && document.activeElement === focus) {
      const was = typed.find((x) => x.key === active)?.el
      if (was) try { focus.setSelectionRange(was.selectionStart, was.selectionEnd) } catch { /* not a text field */ }
    }
  } else main.focus()
}

// fieldKey names a field so that the same field can be found on the new
// screen: its id, its name inside a form with an id, or the record it edits.
function fieldKey(el) {
  if (!el || !/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) return ''
  if (el.id) return '#' + CSS.escape(el.id)
  if (el.name && el.form?.id) return `#${CSS.escape(el.form.id)} [name="${CSS.escape(el.name)}"]`
  for (const k of ['deal', 'reason', 'qty', 'disc']) if (el.dataset[k]) return `[data-${k}="${CSS.escape(el.dataset[k])}"]`
  return ''
}

// clean marks fields (or every field inside a form) as saved: a re-render
// shows what the database holds for them again.
function clean(...els) {
  for (const el of els) {
    if (!el) continue
    delete el.dataset.typed
    for (const f of el.querySelectorAll?.('[data-typed]') || []) delete f.dataset.typed
  }
}

const fmtTime = (ms) => new Date(ms).toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' })
const fmtDay = (ms) => new Date(ms).toLocaleDateString(lang, { weekday: 'short', day: 'numeric', month: 'short' })
const startOfDay = (ms = Date.now()) => { const d = new Date(ms); d.setHours(0, 0, 0, 0); return d.getTime() }

function ago(ms) {
  const m = Math.floor((Date.now() - ms) / 60000)
  if (m < 1) return t.justNow
  if (m < 60) return t.minutesAgo(m)
  if (m < 24 * 60) return t.hoursAgo(Math.floor(m / 60))
  return t.daysAgo(Math.floor(m / 1440))
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(lang, { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: 2 }).format(amount)
  } catch {
    return `${Math.round(amount)} ${currency}`
  }
}

// ---------------------------------------------------------------------------
// Session

function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY))
  } catch {
    return null
  }
}

function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY)
  if (!id) {
    id = 'web-' + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2))
    localStorage.setItem(DEVICE_KEY, id)
  }
  return id
}

async function signIn(email, password) {
  const res = await fetch(BASE + '/api/collections/users/auth-with-password', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ identity: email, password }),
  })
  if (!res.ok) throw new Error(t.badLogin)
  const body = await res.json()
  if (body.record.role !== 'rep') throw new Error(t.notRep)
  const session = { token: body.token, at: Date.now(), user: { id: body.record.id, name: body.record.name, email: body.record.email } }
  // a second rep on this phone gets their own database; the first one's unsynced work waits in theirs
  localStorage.setItem(SESSION_KEY, JSON.stringify(session))
  return session
}

// refresh renews the token a day after it was issued (tokens last 30 days).
async function refresh() {
  const s = app.session
  if (!s || Date.now() - s.at < DAY || !navigator.onLine) return
  try {
    const res = await fetch(BASE + '/api/collections/users/auth-refresh', { method: 'POST', headers: { Authorization: s.token } })
    if (res.ok) {
      const body = await res.json()
      app.session = { ...s, token: body.token, at: Date.now() }
      localStorage.setItem(SESSION_KEY, JSON.stringify(app.session))
    } else if (res.status === 401) {
      setStatus({ error: t.signedOutBanner, signedOut: true })
    }
  } catch {
    // offline: the next start tries again
  }
}

function renderSignIn(message) {
  $('nav').hidden = true
  $('statusbar').hidden = true
  $('signout').hidden = true
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error', hidden: !message }, message || '')
  const form = h('form', { id: 'signin-form', novalidate: true },
    h('label', {}, t.email, h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true })),
    h('label', {}, t.password, h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    error,
    h('button', { type: 'submit', id: 'signin-button' }, t.signIn))
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const button = $('signin-button')
    button.disabled = true
    button.textContent = t.signingIn
    try {
      if (!navigator.onLine) throw new Error(t.offlineSignIn)
      app.session = await signIn(form.email.value.trim(), form.password.value)
      await start()
    } catch (e) {
      error.textContent = e.message === 'Failed to fetch' ? t.offlineSignIn : e.message
      error.hidden = false
      button.disabled = false
      button.textContent = t.signIn
    }
  })
  show(h('section', { class: 'card signin' }, h('h1', {}, t.signInTitle), h('p', { class: 'muted' }, t.signInHint), form))
}

async function signOut() {
  const waiting = app.db ? await unsynced(app.db, app.tables) : 0
  if (waiting > 0 && !confirm(t.signOutUnsynced(waiting))) return
  localStorage.removeItem(SESSION_KEY)
  clearTimeout(app.timer)
  location.hash = ''
  location.reload()
}

// ---------------------------------------------------------------------------
// Sync: every reason to sync (start, back online, the timer, the button)
// goes through one queue, since WatermelonDB aborts a second synchronize()
// running at once.

let running = null
let again = false

function requestSync() {
  if (running) {
    again = true
    return running
  }
  running = (async () => {
    do {
      again = false
      await syncOnce()
    } while (again)
    running = null
  })()
  return running
}

async function syncOnce() {
  clearTimeout(app.timer)
  if (!navigator.onLine) {
    setStatus({ error: t.offline, offline: true })
    return schedule(SYNC_EVERY)
  }
  setStatus({ syncing: true })
  try {
    const refused = await app.sync.sync()
    await app.db.flush() // what the sync stored is on disk before the rep closes the app
    localStorage.setItem('rounds_last_sync', String(Date.now()))
    app.backoff = 0
    setStatus({ refused })
    schedule(SYNC_EVERY)
    render()
  } catch (e) {
    app.backoff = Math.min(app.backoff ? app.backoff * 2 : 30000, SYNC_EVERY)
    if (e.status === 401) setStatus({ error: t.signedOutBanner, signedOut: true })
    else if (e.status === 0 || e.message === 'Failed to fetch') setStatus({ error: navigator.onLine ? t.unreachable : t.offline })
    else setStatus({ error: e.message })
    schedule(app.backoff)
  }
}

function schedule(ms) {
  clearTimeout(app.timer)
  app.timer = setTimeout(requestSync, ms)
}

async function setStatus(s) {
  app.status = s
  const bar = $('status')
  const last = Number(localStorage.getItem('rounds_last_sync')) || 0
  const waiting = app.db ? await unsynced(app.db, app.tables) : 0
  const parts = []
  if (s.syncing) parts.push(h('span', { class: 'syncing' }, t.syncing))
  else if (s.wait) parts.push(h('span', { class: 'warn' }, t.busy(s.wait)))
  else if (s.error) parts.push(h('span', { class: s.offline ? 'muted' : 'warn', role: 'alert' }, s.error))
  else parts.push(h('span', {}, last ? t.synced(ago(last)) : t.neverSynced))
  parts.push(h('span', { class: 'muted', id: 'waiting', 'data-waiting': waiting }, ' · ' + t.waiting(waiting)))
  bar.replaceChildren(...parts)
  bar.dataset.state = s.syncing ? 'syncing' : s.error ? 'error' : 'idle'
  const kept = app.db ? await app.db.localStorage.get('syncRefused') : null
  const refused = s.refused || (Array.isArray(kept) ? kept : [])
  const box = $('refused')
  box.hidden = refused.length === 0
  box.replaceChildren(h('p', {}, t.refused(refused.length), ' — ', t.refusedWhy),
    h('ul', {}, refused.map((r) => h('li', { 'data-refused': `${r.table}/${r.id}` }, `${r.table} ${r.id}: ${r.reason}`))))
  if (s.signedOut) {
    box.hidden = false
    box.prepend(h('p', {}, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); localStorage.removeItem(SESSION_KEY); location.reload() } }, t.signIn)))
  }
}

// ---------------------------------------------------------------------------
// Screens

function section(title, items, empty) {
  return h('section', { class: 'card' }, h('h2', {}, title), items.length ? h('ul', { class: 'list' }, items) : h('p', { class: 'muted empty' }, empty))
}

function link(href, ...children) {
  return h('a', { href }, ...children)
}

async function today() {
  const db = app.db
  const now = Date.now()
  const dayStart = startOfDay(now)
  const dayEnd = dayStart + DAY
  const customers = new Map((await live(db, 'customers')).map((c) => [c.id, c]))
  const name = (id) => customers.get(id)?.name || '—'
  const visits = (await live(db, 'visits')).filter((v) => (v.planned_at >= dayStart && v.planned_at < dayEnd) || (v.checked_in_at >= dayStart && v.checked_in_at < dayEnd))
  visits.sort((a, b) => (a.planned_at || a.checked_in_at) - (b.planned_at || b.checked_in_at))
  const due = [...customers.values()].filter((c) => c.next_visit_due && c.next_visit_due < dayEnd)
  due.sort((a, b) => (a.tier || 'C').localeCompare(b.tier || 'C') || a.next_visit_due - b.next_visit_due)
  const follow = (await live(db, 'follow_ups', Q.where('status', 'open'))).filter((f) => f.due_at && f.due_at < dayEnd)
  follow.sort((a, b) => a.due_at - b.due_at)
  // each birthday of the coming seven days, on the day its calendar keeps it
  const week = []
  for (let i = 0; i < 7; i++) {
    const d = new Date(dayStart + i * DAY)
    const kept = (cal) => celebratedOn(d.getFullYear(), d.getMonth() + 1, d.getDate(), cal)
    week.push({ i, ms: d.getTime(), gregorian: kept('gregorian'), lunar: kept('lunar') })
  }
  const birthdays = []
  for (const c of await live(db, 'contacts')) {
    if (!c.birthday) continue
    const cal = c.birthday_calendar === 'lunar' ? 'lunar' : 'gregorian'
    const day = week.find((w) => w[cal].includes(c.birthday))
    if (day) birthdays.push({ c, day })
  }
  birthdays.sort((a, b) => a.day.i - b.day.i || a.c.name.localeCompare(b.c.name))
  const stages = new Map((await live(db, 'stages')).map((s) => [s.id, s]))
  const stalled = (await live(db, 'opportunities')).filter((o) => {
    const s = stages.get(o.stage)
    return s && s.outcome === 'open' && s.max_days > 0 && o.stage_entered_at && now - o.stage_entered_at > s.max_days * DAY
  })
  show(
    h('h1', { class: 'sr-only' }, t.today),
    section(t.visitsToday, visits.map((v) => h('li', {}, link(`#/visit/${v.id}`, h('strong', {}, name(v.customer)), h('span', { class: 'muted' }, ` ${fmtTime(v.checked_in_at || v.planned_at)} ${v.purpose || ''}`)))), t.noVisitsToday),
    section(t.due, due.slice(0, 50).map((c) => {
      const late = Math.floor((dayStart - startOfDay(c.next_visit_due)) / DAY)
      return h('li', {}, link(`#/customer/${c.id}`, h('span', { class: `tier tier-${c.tier || 'C'}` }, c.tier || 'C'), ' ', h('strong', {}, c.name), h('span', { class: late > 0 ? 'warn' : 'muted' }, ' ', late > 0 ? t.overdueBy(late) : t.dueToday)))
    }), t.noneDue),
    section(t.followUps, follow.map((f) => h('li', {}, link(`#/customer/${f.customer}`, h('strong', {}, name(f.customer)), ' ', f.note || ''), h('span', { class: f.due_at < dayStart ? 'warn' : 'muted' }, ' ', fmtDay(f.due_at)))), t.noFollowUps),
    section(t.birthdays, birthdays.map(({ c, day }) => h('li', { 'data-birthday': c.id }, link(`#/customer/${c.customer}`, h('strong', {}, c.name), ' · ', name(c.customer)),
      h('span', { class: 'muted' }, ' ', day.i === 0 ? t.birthdayToday : fmtDay(day.ms), c.birthday_calendar === 'lunar' ? ` (${t.lunarDay(c.birthday)})` : ''))), t.noBirthdays),
    section(t.stalled, stalled.map((o) => h('li', {}, link(`#/customer/${o.customer}`, h('strong', {}, o.title), ' · ', name(o.customer)), h('span', { class: 'muted' }, ' ', money(o.amount, o.currency)))), t.noStalled),
  )
}

async function customerList(query) {
  const all = await live(app.db, 'customers')
  const q = (query || '').trim().toLowerCase()
  const found = all.filter((c) => !q || c.name.toLowerCase().includes(q)).sort((a, b) => a.name.localeCompare(b.name))
  const input = h('input', { type: 'search', id: 'search', placeholder: t.searchPlaceholder, autocomplete: 'off', value: query || '', 'aria-label': t.search })
  const results = h('ul', { class: 'list', id: 'results', 'aria-live': 'polite' })
  const fill = (list) => {
    results.replaceChildren(...list.slice(0, 100).map((c) => h('li', {}, link(`#/customer/${c.id}`, h('span', { class: `tier tier-${c.tier || 'C'}` }, c.tier || 'C'), ' ', h('strong', {}, c.name), h('span', { class: 'muted' }, ' ', c.address || '')))))
    if (list.length > 100) results.append(h('li', { class: 'muted' }, t.more(list.length - 100)))
    if (list.length === 0) results.append(h('li', { class: 'muted' }, all.length === 0 ? t.emptyTerritory : t.noCustomers))
  }
  fill(found)
  input.addEventListener('input', () => {
    const v = input.value.trim().toLowerCase()
    fill(all.filter((c) => !v || c.name.toLowerCase().includes(v)).sort((a, b) => a.name.localeCompare(b.name)))
  })
  show(h('section', { class: 'card' }, h('h1', {}, t.customers), h('label', { class: 'search' }, input), results))
  input.focus()
}

async function customer(id) {
  const db = app.db
  const c = await find(db, 'customers', id)
  if (!c) return show(h('section', { class: 'card' }, h('p', {}, t.notFound), link('#/customers', t.back)))
  const contacts = await live(db, 'contacts', Q.where('customer', id))
  const visits = await live(db, 'visits', Q.where('customer', id))
  const follow = await live(db, 'follow_ups', Q.where('customer', id))
  const orders = await live(db, 'orders', Q.where('customer', id))
  const deals = await live(db, 'opportunities', Q.where('customer', id))
  const events = [
    ...visits.map((v) => ({ at: v.checked_in_at || v.planned_at || v.created, text: [t.visit, v.purpose, v.outcome].filter(Boolean).join(' · '), href: `#/visit/${v.id}` })),
    ...follow.map((f) => ({ at: f.due_at || f.created, text: `${f.status === 'open' ? t.promised : t.kept}: ${f.note || ''}` })),
    ...orders.map((o) => ({ at: o.submitted_at || o.created, text: `${t.order} ${t.orderStatus[o.status] || o.status} · ${money(o.total, o.currency)}` })),
    ...deals.map((o) => ({ at: o.updated, text: `${t.deal} ${o.title} · ${money(o.amount, o.currency)}` })),
  ].sort((a, b) => b.at - a.at)
  const notes = h('textarea', { id: 'notes', rows: 4, 'aria-label': t.notes }, c.notes || '')
  const savedNote = h('span', { class: 'muted', role: 'status' })
  const mapURL = c.lat || c.lng ? `https://www.openstreetmap.org/?mlat=${c.lat}&mlon=${c.lng}#map=17/${c.lat}/${c.lng}` : `https://www.openstreetmap.org/search?query=${encodeURIComponent(c.address || c.name)}`
  const followForm = h('form', { class: 'inline', id: 'followup-form' },
    h('label', {}, t.followUpNote, h('input', { name: 'note', required: true })),
    h('label', {}, t.dueOn, h('input', { name: 'due', type: 'date', required: true, value: new Date(Date.now() + DAY).toISOString().slice(0, 10) })),
    h('button', { type: 'submit' }, t.addFollowUp))
  followForm.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const due = new Date(followForm.due.value + 'T09:00').getTime()
    await create(db, 'follow_ups', { customer: id, note: followForm.note.value, status: 'open', due_at: due })
    clean(followForm)
    requestSync()
    render()
  })
  show(
    h('section', { class: 'card' },
      h('p', {}, link('#/customers', '← ', t.customers)),
      h('h1', {}, c.name, ' ', h('span', { class: `tier tier-${c.tier || 'C'}` }, t.tier(c.tier || 'C'))),
      h('p', { class: 'muted' }, c.address || ''),
      h('p', { class: 'actions' },
        c.phone && h('a', { class: 'button', href: `tel:${c.phone}` }, t.call),
        c.email && h('a', { class: 'button', href: `mailto:${c.email}` }, t.mail),
        h('a', { class: 'button', href: mapURL, rel: 'noopener', target: '_blank' }, t.map)),
      h('p', { class: 'actions' },
        h('button', { type: 'button', id: 'checkin', onclick: () => checkIn(id) }, t.checkIn),
        h('button', { type: 'button', class: 'secondary', onclick: () => planVisit(id) }, t.planVisit))),
    h('section', { class: 'card' }, h('h2', {}, t.notes), notes,
      h('p', {}, h('button', { type: 'button', id: 'save-notes', onclick: async () => { await update(db, 'customers', id, { notes: notes.value }); clean(notes); savedNote.textContent = t.saved; requestSync() } }, t.saveNotes), ' ', savedNote)),
    h('section', { class: 'card' }, h('h2', {}, t.contacts), h('p', {}, link(`#/contact/new?customer=${id}`, '+ ', t.addContact)), contacts.length ? h('ul', { class: 'list' }, contacts.map((k) => h('li', {},
      link(`#/contact/${k.id}`, h('strong', {}, k.name)), k.title ? ` · ${k.title}` : '', h('br', {}),
      k.phone && h('a', { href: `tel:${k.phone}` }, k.phone), ' ', k.email && h('a', { href: `mailto:${k.email}` }, k.email),
      h('span', { class: 'muted' }, ' ', k.birthday ? `${t.birthday} ${k.birthday_calendar === 'lunar' ? t.lunarDay(k.birthday) : k.birthday} · ` : '', k.care_opt_in ? t.careOn : t.careOff)))) : h('p', { class: 'muted' }, t.noContacts)),
    h('section', { class: 'card', id: 'open-followups' }, h('h2', {}, t.openFollowUps),
      follow.filter((f) => f.status === 'open').length
        ? h('ul', { class: 'list' }, follow.filter((f) => f.status === 'open').sort((a, b) => a.due_at - b.due_at).map((f) => h('li', { class: 'row' },
          h('span', {}, f.note || '', ' ', h('span', { class: f.due_at < startOfDay() ? 'warn' : 'muted' }, fmtDay(f.due_at))),
          h('button', { type: 'button', class: 'secondary small', 'data-done': f.id, onclick: async () => { await update(db, 'follow_ups', f.id, { status: 'done' }); requestSync(); render() } }, t.markDone))))
        : h('p', { class: 'muted' }, t.noFollowUps),
      followForm),
    await dealsCard(id, deals),
    h('section', { class: 'card' }, h('h2', {}, t.orders),
      orders.length ? h('ul', { class: 'list' }, orders.sort((a, b) => b.created - a.created).map((o) => h('li', {}, link(`#/order/${o.id}`, `${fmtDay(o.submitted_at || o.created)} · ${t.orderStatus[o.status] || o.status} · ${money(o.total, o.currency)}`)))) : h('p', { class: 'muted' }, t.noOrders),
      h('p', {}, h('button', { type: 'button', id: 'new-order', onclick: () => newOrder(id) }, t.takeOrder))),
    h('section', { class: 'card' }, h('h2', {}, t.history), events.length ? h('ul', { class: 'list' }, events.slice(0, 60).map((e) => h('li', {}, h('span', { class: 'muted' }, e.at ? fmtDay(e.at) + ' ' : ''), e.href ? link(e.href, e.text) : e.text))) : h('p', { class: 'muted' }, t.noHistory)),
  )
}

function where() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null)
    navigator.geolocation.getCurrentPosition((p) => resolve(p.coords), () => resolve(null), { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 })
  })
}

async function checkIn(customerId) {
  const button = $('checkin')
  if (button) { button.disabled = true; button.textContent = t.locating }
  const at = await where()
  const values = { customer: customerId, checked_in_at: Date.now(), purpose: '' }
  if (at) Object.assign(values, { check_in_lat: at.latitude, check_in_lng: at.longitude })
  const id = await create(app.db, 'visits', values)
  sessionStorage.setItem('rounds_flash', at ? '' : t.noLocation)
  requestSync()
  location.hash = `#/visit/${id}`
}

async function planVisit(customerId) {
  const id = await create(app.db, 'visits', { customer: customerId, planned_at: startOfDay(Date.now() + DAY) + 9 * 3600000 })
  requestSync()
  location.hash = `#/visit/${id}`
}

async function visit(id) {
  const db = app.db
  const v = await find(db, 'visits', id)
  if (!v) return show(h('section', { class: 'card' }, h('p', {}, t.notFound), link('#/today', t.back)))
  const c = await find(db, 'customers', v.customer)
  const flash = sessionStorage.getItem('rounds_flash')
  sessionStorage.removeItem('rounds_flash')
  const form = h('form', { id: 'visit-form' },
    h('label', {}, t.when, h('input', { type: 'datetime-local', name: 'planned', value: v.planned_at ? new Date(v.planned_at - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) : '' })),
    h('label', {}, t.purpose, h('input', { name: 'purpose', value: v.purpose || '' })),
    h('label', {}, t.outcome, h('input', { name: 'outcome', value: v.outcome || '' })),
    h('label', {}, t.notes, h('textarea', { name: 'notes', rows: 4 }, v.notes || '')),
    h('p', {}, h('button', { type: 'submit', id: 'save-visit' }, t.save), ' ', h('span', { class: 'muted', role: 'status', id: 'visit-saved' })))
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const planned = form.planned.value ? new Date(form.planned.value).getTime() : null
    await update(db, 'visits', id, { purpose: form.purpose.value, outcome: form.outcome.value, notes: form.notes.value, planned_at: planned })
    clean(form)
    $('visit-saved').textContent = t.saved
    requestSync()
  })
  show(h('section', { class: 'card' },
    h('p', {}, link(`#/customer/${v.customer}`, '← ', c?.name || t.back)),
    h('h1', {}, t.visit, ' · ', c?.name || ''),
    flash && h('p', { class: 'warn', role: 'alert' }, flash),
    v.checked_in_at && h('p', {}, t.checkedIn(fmtTime(v.checked_in_at)), ' ', h('span', { class: `geo geo-${v.geo_status || 'unknown'}`, id: 'geo' }, t.geo[v.geo_status] || t.geo.unknown)),
    v.checked_out_at ? h('p', {}, t.checkedOut(fmtTime(v.checked_out_at)))
      : v.checked_in_at && h('p', {}, h('button', { type: 'button', id: 'checkout', onclick: async () => { await update(db, 'visits', id, { checked_out_at: Date.now() }); requestSync(); render() } }, t.checkOut)),
    h('p', {}, h('button', { type: 'button', class: 'secondary', id: 'visit-order', onclick: () => newOrder(v.customer, id) }, t.takeOrder)),
    form))
}

async function dealsCard(customerId, deals) {
  const db = app.db
  const stages = (await live(db, 'stages')).sort((a, b) => a.position - b.position)
  const open = stages.filter((s) => s.outcome === 'open')
  const stageName = (id) => stages.find((s) => s.id === id)?.name || '—'
  const items = deals.sort((a, b) => (b.updated || 0) - (a.updated || 0)).map((d) => {
    const select = h('select', { 'aria-label': `${t.stage}: ${d.title}`, 'data-deal': d.id }, stages.map((s) => h('option', { value: s.id, selected: s.id === d.stage }, s.name)))
    const reason = h('input', { placeholder: t.lostReason, 'aria-label': t.lostReason, hidden: true, 'data-reason': d.id })
    const save = async () => {
      const stage = stages.find((s) => s.id === select.value)
      if (stage?.outcome === 'lost' && !reason.value.trim()) {
        reason.hidden = false
        reason.focus()
        return
      }
      await update(db, 'opportunities', d.id, stage?.outcome === 'lost' ? { stage: select.value, lost_reason: reason.value.trim() } : { stage: select.value })
      clean(select, reason)
      requestSync()
      render()
    }
    select.addEventListener('change', save)
    reason.addEventListener('change', save)
    const weighted = d._status === 'synced' ? money(d.weighted_amount, d.currency) : t.afterSync
    return h('li', {}, h('strong', {}, d.title), ' ', money(d.amount, d.currency), h('br', {}),
      h('span', { class: 'muted' }, `${t.weighted}: ${weighted}`, d.expected_close ? ` · ${t.expectedClose} ${fmtDay(d.expected_close)}` : ''),
      h('div', { class: 'row' }, select, reason), d.lost_reason ? h('span', { class: 'muted' }, `${t.lostReason}: ${d.lost_reason}`) : '')
  })
  const form = h('form', { class: 'inline', id: 'deal-form' },
    h('label', {}, t.dealTitle, h('input', { name: 'title', required: true, maxlength: 200 })),
    h('label', {}, t.amount, h('input', { name: 'amount', type: 'number', min: 0, step: '0.01', inputmode: 'decimal', required: true })),
    h('label', {}, t.stage, h('select', { name: 'stage' }, open.map((s) => h('option', { value: s.id }, s.name)))),
    h('label', {}, t.expectedClose, h('input', { name: 'close', type: 'date' })),
    h('button', { type: 'submit' }, t.addDeal))
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    await create(db, 'opportunities', {
      customer: customerId, title: form.title.value.trim(), amount: Number(form.amount.value), currency: await companyCurrency(),
      stage: form.stage.value, expected_close: form.close.value ? new Date(form.close.value + 'T12:00').getTime() : null,
    })
    clean(form)
    requestSync()
    render()
  })
  return h('section', { class: 'card', id: 'deals' }, h('h2', {}, t.deals), items.length ? h('ul', { class: 'list' }, items) : h('p', { class: 'muted' }, t.noDeals), form)
}

// companyCurrency is the currency most of the catalogue is priced in.
async function companyCurrency() {
  const count = {}
  for (const p of await live(app.db, 'products', Q.where('active', true))) count[p.currency] = (count[p.currency] || 0) + 1
  return Object.entries(count).sort((a, b) => b[1] - a[1])[0]?.[0] || 'EUR'
}

async function newOrder(customerId, visitId) {
  const id = await create(app.db, 'orders', { customer: customerId, visit: visitId || null, status: 'draft', currency: await companyCurrency() })
  requestSync()
  location.hash = `#/order/${id}`
}

// lineEstimate is what the phone expects a line to cost; the server prices
// it (unit_price, line_total) and its figure replaces this one after a sync.
const lineEstimate = (price, qty, discount) => Math.round(price * qty * (1 - (discount || 0) / 100) * 100) / 100

async function order(id) {
  const db = app.db
  const o = await find(db, 'orders', id)
  if (!o) return show(h('section', { class: 'card' }, h('p', {}, t.notFound), link('#/today', t.back)))
  const c = await find(db, 'customers', o.customer)
  const products = new Map((await live(db, 'products')).map((p) => [p.id, p]))
  const rows = await db.get('order_lines').query(Q.where('order', id), Q.where('removed_at', null)).fetch()
  const lines = rows.map((r) => r._raw)
  const draft = o.status === 'draft'
  const synced = o._status === 'synced' && rows.every((r) => r._raw._status === 'synced')
  let estimate = 0
  const lineItems = lines.map((l) => {
    const p = products.get(l.product)
    const price = l._status === 'synced' && l.unit_price ? l.unit_price : p?.unit_price || 0
    const total = l._status === 'synced' ? l.line_total : lineEstimate(price, l.quantity, l.discount_pct)
    estimate += total
    if (!draft) return h('li', {}, h('strong', {}, p?.name || l.product), ` × ${l.quantity}`, l.discount_pct ? ` −${l.discount_pct} %` : '', h('span', { class: 'muted' }, ' ', money(total, o.currency)))
    const qty = h('input', { type: 'number', min: 1, max: 1000000, step: 1, value: l.quantity, inputmode: 'numeric', 'aria-label': `${t.quantity}: ${p?.name || ''}`, class: 'num', 'data-qty': l.id })
    const disc = h('input', { type: 'number', min: 0, max: 100, step: 1, value: l.discount_pct || 0, inputmode: 'numeric', 'aria-label': `${t.discount}: ${p?.name || ''}`, class: 'num', 'data-disc': l.id })
    const save = async () => {
      const q = Math.max(1, Math.round(Number(qty.value) || 1))
      const d = Math.min(100, Math.max(0, Number(disc.value) || 0))
      await update(db, 'order_lines', l.id, { quantity: q, discount_pct: d })
      clean(qty, disc)
      requestSync()
      render()
    }
    qty.addEventListener('change', save)
    disc.addEventListener('change', save)
    return h('li', { class: 'line' }, h('strong', {}, p?.name || l.product), h('span', { class: 'muted' }, ' ', money(price, o.currency)),
      h('div', { class: 'row' }, h('label', {}, t.quantity, qty), h('label', {}, t.discount, disc), h('span', { class: 'line-total' }, money(total, o.currency)),
        h('button', { type: 'button', class: 'secondary small', onclick: async () => {
          await db.write(async () => { await (await db.get('order_lines').find(l.id)).markAsDeleted() })
          await db.flush()
          requestSync()
          render()
        } }, t.remove)))
  })
  const totalText = synced ? money(o.total, o.currency) : `${money(estimate, o.currency)} (${t.estimate})`
  const nodes = [
    h('p', {}, link(`#/customer/${o.customer}`, '← ', c?.name || t.back)),
    h('h1', {}, t.order, ' · ', c?.name || ''),
    h('p', {}, `${t.status}: `, h('strong', { id: 'order-status' }, t.orderStatus[o.status] || o.status)),
    lineItems.length ? h('ul', { class: 'list', id: 'lines' }, lineItems) : h('p', { class: 'muted' }, t.noLines),
    h('p', { class: 'total' }, `${t.total}: `, h('strong', { id: 'order-total', 'data-estimate': synced ? 'no' : 'yes' }, totalText)),
  ]
  if (draft) {
    const search = h('input', { type: 'search', id: 'catalogue', placeholder: t.searchCatalogue, 'aria-label': t.searchCatalogue, autocomplete: 'off' })
    const found = h('ul', { class: 'list', id: 'catalogue-results' })
    const sell = [...products.values()].filter((p) => p.active && p.currency === o.currency).sort((a, b) => a.name.localeCompare(b.name))
    const fill = () => {
      const q = search.value.trim().toLowerCase()
      const hits = sell.filter((p) => !q || p.name.toLowerCase().includes(q) || p.sku.toLowerCase().includes(q)).slice(0, 8)
      found.replaceChildren(...hits.map((p) => h('li', { class: 'row' }, h('span', {}, h('strong', {}, p.name), h('span', { class: 'muted' }, ` ${p.sku} · ${money(p.unit_price, p.currency)}`)),
        h('button', { type: 'button', class: 'secondary small', 'data-add': p.id, onclick: async () => {
          await create(db, 'order_lines', { order: id, product: p.id, quantity: 1, discount_pct: 0 })
          clean(search)
          requestSync()
          render()
        } }, t.add))))
    }
    search.addEventListener('input', fill)
    fill()
    nodes.push(h('h2', {}, t.addLine), search, found,
      h('p', {}, h('button', { type: 'button', id: 'submit-order', disabled: lines.length === 0, onclick: async () => {
        await update(db, 'orders', id, { status: 'submitted' })
        requestSync()
        render()
      } }, t.submitOrder)))
  } else {
    nodes.push(h('p', { class: 'muted' }, t.orderFrozen))
  }
  show(h('section', { class: 'card' }, ...nodes))
}

async function contact(id) {
  const db = app.db
  const isNew = id.startsWith('new')
  const k = isNew ? { customer: new URLSearchParams(location.hash.split('?')[1]).get('customer'), name: '', title: '', phone: '', email: '', birthday: '', birthday_calendar: '', language: '' } : await find(db, 'contacts', id)
  if (!k) return show(h('section', { class: 'card' }, h('p', {}, t.notFound), link('#/today', t.back)))
  const c = await find(db, 'customers', k.customer)
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const form = h('form', { id: 'contact-form', novalidate: true },
    h('label', {}, t.name, h('input', { name: 'name', value: k.name, required: true, maxlength: 200 })),
    h('label', {}, t.title, h('input', { name: 'title', value: k.title, maxlength: 200 })),
    h('label', {}, t.phone, h('input', { name: 'phone', type: 'tel', value: k.phone, maxlength: 40 })),
    h('label', {}, t.email, h('input', { name: 'email', type: 'email', value: k.email })),
    h('label', {}, t.birthdayLabel, h('input', { name: 'birthday', value: k.birthday, placeholder: 'MM-DD', maxlength: 5, inputmode: 'numeric' })),
    choice('birthday_calendar', t.calendarLabel, k.birthday_calendar === 'lunar' ? 'lunar' : 'gregorian', [['gregorian', t.calendars.gregorian], ['lunar', t.calendars.lunar]]),
    choice('language', t.languageLabel, k.language || '', [['', t.languages.none], ['en', t.languages.en], ['zh-CN', t.languages['zh-CN']]]),
    error,
    h('p', {}, h('button', { type: 'submit', id: 'save-contact' }, t.save), ' ', h('span', { class: 'muted', role: 'status', id: 'contact-saved' })))
  const read = () => ({ name: form.name.value.trim(), title: form.title.value.trim(), phone: form.phone.value.trim(), email: form.email.value.trim(), birthday: form.birthday.value.trim(),
    birthday_calendar: form.birthday_calendar.value, language: form.language.value })
  let before = read()
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const values = read()
    const problem = !values.name ? t.nameNeeded : values.birthday && !validBirthday(values.birthday, values.birthday_calendar) ? (values.birthday_calendar === 'lunar' ? t.lunarForm : t.birthdayForm) : ''
    error.textContent = problem
    error.hidden = !problem
    if (problem) return
    if (isNew) {
      const newId = await create(db, 'contacts', { ...values, customer: k.customer })
      requestSync()
      location.hash = `#/contact/${newId}`
      return
    }
    // only what the rep changed: a field the office changed meanwhile keeps the office's value
    const changed = Object.fromEntries(Object.entries(values).filter(([f, v]) => before[f] !== v))
    if (Object.keys(changed).length) await update(db, 'contacts', id, changed)
    before = values
    clean(form)
    $('contact-saved').textContent = t.saved
    requestSync()
  })
  const invite = !isNew && h('p', {}, h('button', { type: 'button', class: 'secondary', id: 'invite', onclick: async (ev) => {
    const out = $('invite-link')
    try {
      const res = await fetch(BASE + '/api/care/invites', { method: 'POST', headers: { Authorization: app.session.token, 'Content-Type': 'application/json' }, body: JSON.stringify({ contact: id }) })
      const body = await res.json()
      if (!res.ok) throw new Error(body.message)
      out.replaceChildren(t.inviteShow, qrCode(body.url), h('a', { href: body.url, rel: 'noopener', target: '_blank' }, body.url))
    } catch (e) {
      out.textContent = navigator.onLine ? e.message : t.inviteOffline
    }
    ev.target.disabled = false
  } }, t.invite), h('p', { id: 'invite-link', class: 'muted', role: 'status' }))
  show(h('section', { class: 'card' },
    h('p', {}, link(`#/customer/${k.customer}`, '← ', c?.name || t.back)),
    h('h1', {}, isNew ? t.addContact : k.name),
    !isNew && h('p', { class: 'muted' }, k.care_opt_in ? t.careOn : t.careOff, ' — ', t.careTheirs),
    form, invite))
}

// qrCode draws text as a QR code: an SVG built node by node (no markup
// strings), dark modules as one path.
function qrCode(text) {
  const qr = qrcode(0, 'M')
  qr.addData(text)
  qr.make()
  const n = qr.getModuleCount()
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', `-4 -4 ${n + 8} ${n + 8}`)
  svg.setAttribute('class', 'qr')
  svg.setAttribute('role', 'img')
  svg.setAttribute('aria-label', t.inviteQR)
  let d = ''
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c} ${r}h1v1h-1z`
  const bg = document.createElementNS(ns, 'rect')
  for (const [k, v] of Object.entries({ x: -4, y: -4, width: n + 8, height: n + 8, fill: '#fff' })) bg.setAttribute(k, v)
  const path = document.createElementNS(ns, 'path')
  path.setAttribute('d', d)
  path.setAttribute('fill', '#000')
  svg.append(bg, path)
  return svg
}

// choice is a labelled select of [value, words] options.
function choice(name, label, value, options) {
  const select = h('select', { name }, options.map(([v, words]) => h('option', { value: v }, words)))
  select.value = value
  return h('label', {}, label, select)
}

// ---------------------------------------------------------------------------
// Routing and start

async function render() {
  if (!app.db) return
  const [, route, id] = (location.hash || '#/today').split('/')
  for (const a of document.querySelectorAll('#nav a')) a.setAttribute('aria-current', a.getAttribute('href') === `#/${route}` ? 'page' : 'false')
  if (route === 'customers') return customerList(new URLSearchParams(location.hash.split('?')[1]).get('q'))
  if (route === 'customer' && id) return customer(id)
  if (route === 'visit' && id) return visit(id.split('?')[0])
  if (route === 'order' && id) return order(id.split('?')[0])
  if (route === 'contact' && id) return contact(id.split('?')[0])
  return today()
}

async function start() {
  app.session = loadSession()
  if (!app.session) return renderSignIn()
  app.schema = await loadSchema(BASE)
  if (!app.schema) return renderSignIn(t.offlineSignIn)
  app.tables = app.schema.tables.map((x) => x.name).filter((n) => n !== 'products' && n !== 'stages')
  app.db = openDatabase(app.schema, 'rounds-' + app.session.user.id, {
    onQuotaExceeded: () => setStatus({ error: t.outOfStorage }),
    // another tab deleted the database (signed out): start again. (WatermelonDB's
    // own first set-up also deletes it, before the app is ready.)
    onVersionChange: () => { if (app.ready) location.reload() },
  })
  app.sync = roundsSync({
    database: app.db, base: BASE, token: () => app.session.token, deviceId: deviceId(), schema: app.schema,
    migrationsEnabledAtVersion: Math.min(MIGRATED_FROM, app.schema.version),
    onWait: (s) => setStatus({ wait: s }),
  })
  $('nav').hidden = false
  $('statusbar').hidden = false
  $('signout').hidden = false
  $('me').textContent = app.session.user.name || app.session.user.email
  if (navigator.storage?.persist) navigator.storage.persist().catch(() => {})
  await setStatus({})
  await render()
  app.ready = true
  refresh()
  requestSync()
}

window.addEventListener('hashchange', render)
document.addEventListener('input', (ev) => { if (ev.isTrusted && $('main').contains(ev.target)) ev.target.dataset.typed = '1' })
document.addEventListener('change', (ev) => { if (ev.isTrusted && $('main').contains(ev.target)) ev.target.dataset.typed = '1' })
window.addEventListener('online', () => requestSync())
window.addEventListener('offline', () => setStatus({ error: t.offline, offline: true }))
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') app.db?.flush() })
window.addEventListener('pagehide', () => app.db?.flush())
document.addEventListener('DOMContentLoaded', () => {
  // the page's fixed words in the app's language, and the switch to the other
  document.documentElement.lang = lang
  for (const [id, word] of [['signout', t.signOut], ['sync-now', t.syncNow], ['nav-today', t.today], ['nav-customers', t.customers], ['lang', t.language]]) $(id).textContent = word
  $('lang').lang = lang === 'en' ? 'zh-CN' : 'en'
  $('lang').addEventListener('click', switchLanguage)
  $('sync-now').addEventListener('click', () => requestSync())
  $('signout').addEventListener('click', signOut)
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {})
  start()
})
