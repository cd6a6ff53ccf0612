// WatermelonDB's own synchronize() against a running Rounds server.
//
// Devices are real WatermelonDB databases (LokiJS adapter, in memory) built
// from the server's /api/sync/schema. The scenario walks what a field team
// does in a day: first sync, offline edits, admin edits in between, a push
// whose response is lost, deletes both ways, a refused record, a second
// device, a customer handed to another rep. At the end every device must
// equal the server's view of its rep's scope, and WatermelonDB must have
// reported no protocol diagnostics.
//
// Environment: ROUNDS_URL, ADMIN_EMAIL, ADMIN_PASSWORD, REP_A_EMAIL,
// REP_B_EMAIL, REP_PASSWORD.
'use strict'

const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
const logger = require('@nozbe/watermelondb/utils/common/logger').default

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}
const BASE = env('ROUNDS_URL')

const diagnostics = []
logger.error = (...args) => diagnostics.push(args.map((a) => (a && a.message) || String(a)).join(' '))
logger.warn = (...args) => diagnostics.push('warning: ' + args.map(String).join(' '))
logger.log = () => {}

const steps = []
function step(name) {
  steps.push(name)
  process.stdout.write(`- ${name}\n`)
}
function check(cond, message) {
  if (!cond) throw new Error(`${steps[steps.length - 1]}: ${message}`)
}

// api is one request; a push answered 429 (the server's queue is full; it
// changed nothing) is sent again after Retry-After, as README's client does.
async function api(method, path, token, body, headers = {}, tries = 5) {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      ...(token ? { Authorization: token } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  })
  const text = await res.text()
  if (res.status === 429 && path.startsWith('/api/sync/push') && tries > 0) {
    await new Promise((r) => setTimeout(r, 1000 * (Number(res.headers.get('Retry-After')) || 1)))
    return api(method, path, token, body, headers, tries - 1)
  }
  let json
  try {
    json = text ? JSON.parse(text) : null
  } catch (e) {
    throw new Error(`${method} ${path}: ${res.status} not JSON: ${text.slice(0, 200)}`)
  }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`)
  return json
}

async function login(collection, email, password) {
  const r = await api('POST', `/api/collections/${collection}/auth-with-password`, null, { identity: email, password })
  return { token: r.token, id: r.record.id }
}

let serverSchema
function buildSchema() {
  return appSchema({
    version: serverSchema.version,
    tables: serverSchema.tables.map((t) =>
      tableSchema({
        name: t.name,
        columns: t.columns.map((c) => ({ name: c.name, type: c.type, isOptional: c.isOptional, isIndexed: c.isIndexed })),
      }),
    ),
  })
}

function makeDevice(name, rep) {
  const modelClasses = serverSchema.tables.map((t) => {
    const cls = class extends Model {}
    cls.table = t.name
    return cls
  })
  const adapter = new LokiJSAdapter({
    schema: buildSchema(),
    useWebWorker: false,
    useIncrementalIndexedDB: true,
    extraLokiOptions: { autosave: false },
  })
  const db = new Database({ adapter, modelClasses })
  return { name, rep, db, id: `e2e-${name}`, loseNextResponse: false, lastPush: null, pulls: 0, unfinished: false }
}

// sync is the client loop README documents: synchronize(), and once more
// (up to three times in all) while the push answers sync_again, because
// WatermelonDB pulls before it pushes and would otherwise keep what it sent
// instead of what the server stored.
async function sync(dev) {
  dev.pushes = []
  dev.rounds = 0
  let log
  for (let round = 0; round < 3; round++) {
    dev.rounds++
    log = await synchronizeOnce(dev)
    // WatermelonDB skips the push when nothing is unsynced, so a round that
    // only pulled leaves lastPush null and ends the loop.
    if (!(dev.lastPush && dev.lastPush.sync_again)) break
  }
  return log
}

// synchronizeOnce is one synchronize() as README's client makes it: it
// tells the pull whether the previous one finished (a push that failed may
// still hold edits to records the office removed meanwhile).
async function synchronizeOnce(dev) {
  const log = {}
  dev.lastPush = null
  const unfinished = dev.unfinished
  dev.unfinished = true
  await synchronize({
    database: dev.db,
    sendCreatedAsUpdated: true,
    log,
    pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
      const q = `last_pulled_at=${lastPulledAt ?? 'null'}&schema_version=${schemaVersion}&migration=${encodeURIComponent(JSON.stringify(migration ?? null))}&unfinished=${unfinished}`
      dev.pulls++
      return api('GET', `/api/sync/pull?${q}`, dev.rep.token, undefined, { 'X-Device-Id': dev.id })
    },
    pushChanges: async ({ changes, lastPulledAt }) => {
      const res = await pushInParts(dev, changes, lastPulledAt)
      if (dev.loseNextResponse) {
        dev.loseNextResponse = false
        throw new Error('network: the push response was lost')
      }
      dev.lastPush = res
      dev.pushes.push(res)
      return { experimentalRejectedIds: res.experimentalRejectedIds }
    },
  })
  dev.unfinished = false
  return log
}

// pushInParts is README's client push: a push carries at most 20,000
// records and 16 MB, so a phone with more to send (a long time offline)
// sends parts of at most dev.partSize records, parents before children,
// deletions last and children first, each part its own transaction with
// the same lastPulledAt; a part retried after a failure changes nothing.
async function pushInParts(dev, changes, lastPulledAt) {
  const TABLES = serverSchema.tables.map((t) => t.name) // parents first
  const max = dev.partSize || 5000
  const parts = []
  let part = {}
  let n = 0
  const add = (table, kind, item) => {
    if (n === max) {
      parts.push(part)
      part = {}
      n = 0
    }
    part[table] = part[table] || { created: [], updated: [], deleted: [] }
    part[table][kind].push(item)
    n++
  }
  for (const t of TABLES) for (const k of ['created', 'updated']) for (const r of changes[t]?.[k] || []) add(t, k, r)
  for (const t of [...TABLES].reverse()) for (const id of changes[t]?.deleted || []) add(t, 'deleted', id)
  if (n > 0) parts.push(part)
  const out = { experimentalRejectedIds: {}, rejected: [], conflicts: [], sync_again: false, parts: parts.length, bytes: 0 }
  for (const p of parts) {
    const body = JSON.stringify(p)
    out.bytes += body.length
    const res = await api('POST', `/api/sync/push?last_pulled_at=${lastPulledAt}`, dev.rep.token, p, { 'X-Device-Id': dev.id })
    for (const [t, ids] of Object.entries(res.experimentalRejectedIds)) out.experimentalRejectedIds[t] = (out.experimentalRejectedIds[t] || []).concat(ids)
    out.rejected.push(...res.rejected)
    out.conflicts.push(...res.conflicts)
    out.sync_again = out.sync_again || res.sync_again
  }
  return out
}

async function all(dev, table) {
  return dev.db.get(table).query().fetch()
}
async function find(dev, table, id) {
  try {
    return await dev.db.get(table).find(id)
  } catch (e) {
    return null
  }
}
// visible is what the app shows: a record the server removed arrives first
// as a tombstone (removed_at set), which the app hides, and is deleted one
// sync later.
async function visible(dev, table, id) {
  const rec = await find(dev, table, id)
  return rec && rec._raw.removed_at == null ? rec : null
}
async function edit(dev, table, id, values) {
  const rec = await dev.db.get(table).find(id)
  await dev.db.write(async () => {
    await rec.update((r) => {
      for (const [k, v] of Object.entries(values)) r._setRaw(k, v)
      r._setRaw('updated', Date.now())
    })
  })
}
async function create(dev, table, values) {
  let created
  await dev.db.write(async () => {
    created = await dev.db.get(table).create((r) => {
      for (const [k, v] of Object.entries(values)) r._setRaw(k, v)
      r._setRaw('created', Date.now())
      r._setRaw('updated', Date.now())
    })
  })
  return created.id
}
async function remove(dev, table, id) {
  const rec = await dev.db.get(table).find(id)
  await dev.db.write(async () => {
    await rec.markAsDeleted()
  })
}

// compare checks that a device holds exactly the server's view of its rep's
// scope; records the server refused (still unsynced) are listed apart.
async function compare(dev, unsynced = []) {
  const server = await api('GET', '/api/sync/pull?last_pulled_at=null&schema_version=' + serverSchema.version, dev.rep.token)
  for (const t of serverSchema.tables) {
    const local = new Map()
    for (const r of await all(dev, t.name)) local.set(r.id, r._raw)
    const remote = new Map(server.changes[t.name].updated.map((r) => [r.id, r]))
    for (const [id, raw] of local) {
      if (unsynced.includes(id)) {
        check(raw._status !== 'synced', `${dev.name}: refused ${t.name}#${id} should stay unsynced, is ${raw._status}`)
        continue
      }
      check(raw._status === 'synced', `${dev.name}: ${t.name}#${id} is ${raw._status} after sync`)
      const r = remote.get(id)
      check(r, `${dev.name}: holds ${t.name}#${id}, which is not in the server's scope`)
      // created/updated are bookkeeping: a device keeps its own edit time
      // until the server next changes the record
      for (const c of t.columns.filter((c) => c.name !== 'created' && c.name !== 'updated')) {
        const a = raw[c.name] ?? null
        const b = r[c.name] ?? null
        const same = a === b || (c.type === 'string' && (a ?? '') === (b ?? ''))
        check(same, `${dev.name}: ${t.name}#${id}.${c.name} is ${JSON.stringify(a)} on the device, ${JSON.stringify(b)} on the server`)
      }
    }
    for (const id of remote.keys()) check(local.has(id), `${dev.name}: misses ${t.name}#${id}`)
  }
  return server
}

async function main() {
  const admin = (await login('_superusers', env('ADMIN_EMAIL'), env('ADMIN_PASSWORD'))).token
  const repA = await login('users', env('REP_A_EMAIL'), env('REP_PASSWORD'))
  const repB = await login('users', env('REP_B_EMAIL'), env('REP_PASSWORD'))
  serverSchema = await api('GET', '/api/sync/schema')

  step('first sync of rep A and rep B')
  const a1 = makeDevice('a1', repA)
  const b1 = makeDevice('b1', repB)
  await sync(a1)
  await sync(b1)
  const customers = await all(a1, 'customers')
  check(customers.length > 2, `rep A has ${customers.length} customers`)
  await compare(a1)
  await compare(b1)

  // the customer of the day, one of its contacts, a visit, a follow-up, a product
  const contacts = await all(a1, 'contacts')
  const visits = await all(a1, 'visits')
  const followUps = await all(a1, 'follow_ups')
  const products = await all(a1, 'products')
  const orders = await all(a1, 'orders')
  const contact = contacts[0]
  const customerId = contact._raw.customer
  const customer = await find(a1, 'customers', customerId)
  const visit = visits.find((v) => v._raw.customer === customerId) || visits[0]
  const product = products[0]
  // an order past draft (for a refused line) and a customer to hand over,
  // both away from the customer of the day, which rep A loses last
  const frozen = orders.find((o) => o._raw.status !== 'draft' && o._raw.customer !== customerId)
  check(frozen, 'rep A has no order past draft outside the customer of the day')
  const moved = customers.find((c) => c.id !== customerId && c.id !== frozen._raw.customer)
  check(moved, 'rep A has no third customer to hand over')

  step('offline creates and edits, an admin editing in between')
  const newVisit = await create(a1, 'visits', {
    customer: customerId, contact: contact.id, purpose: 'offline visit', checked_in_at: Date.now(),
    check_in_lat: customer._raw.lat, check_in_lng: customer._raw.lng,
  })
  const newOrder = await create(a1, 'orders', { customer: customerId, status: 'draft', currency: 'EUR', notes: 'taken offline' })
  const newLine = await create(a1, 'order_lines', { order: newOrder, product: product.id, quantity: 3, discount_pct: 10 })
  // the admin edits another field of the contact, and the same field (notes) of the customer
  await api('PATCH', `/api/collections/contacts/records/${contact.id}`, admin, { email: 'buyer@shop.example' })
  await api('PATCH', `/api/collections/customers/records/${customerId}`, admin, { notes: 'admin: pays by card' })
  await new Promise((r) => setTimeout(r, 20))
  await edit(a1, 'contacts', contact.id, { title: 'Head of purchasing' })
  await edit(a1, 'customers', customerId, { notes: 'rep: gate code 42' })
  await sync(a1)
  const sc = await api('GET', `/api/collections/contacts/records/${contact.id}`, admin)
  check(sc.title === 'Head of purchasing' && sc.email === 'buyer@shop.example', `contact on the server: ${sc.title} / ${sc.email}`)
  const scu = await api('GET', `/api/collections/customers/records/${customerId}`, admin)
  check(scu.notes.includes('admin: pays by card') && scu.notes.includes('rep: gate code 42'), `notes not merged: ${JSON.stringify(scu.notes)}`)
  check(a1.pushes[0].conflicts.some((c) => c.field === 'notes' && c.resolution === 'merged'), 'the notes conflict is not reported')
  check(a1.pushes[0].sync_again === true && a1.rounds >= 2, `the push that merged notes did not ask for another sync: ${JSON.stringify(a1.pushes.map((p) => p.sync_again))}, ${a1.rounds} rounds`)
  const sv = await api('GET', `/api/collections/visits/records/${newVisit}`, admin)
  check(sv.rep === repA.id && sv.geo_status === 'verified', `offline visit on the server: rep ${sv.rep}, geo ${sv.geo_status}`)
  const sl = await api('GET', `/api/collections/order_lines/records/${newLine}`, admin)
  check(sl.unit_price === product._raw.unit_price && sl.line_total > 0, `line priced ${sl.unit_price} / ${sl.line_total}`)
  // the sync_again round brought back the server's merge and computed fields
  check((await find(a1, 'customers', customerId))._raw.notes === scu.notes, 'merged notes did not reach the device')
  check((await find(a1, 'order_lines', newLine))._raw.line_total === sl.line_total, 'line total did not reach the device')

  step('a push whose response is lost, retried with more changes')
  await edit(a1, 'visits', visit.id, { outcome: 'first attempt' })
  a1.loseNextResponse = true
  let failed = false
  try {
    await sync(a1)
  } catch (e) {
    failed = /response was lost/.test(e.message)
  }
  check(failed, 'the lost response did not fail the sync')
  await edit(a1, 'visits', visit.id, { notes: 'added after the lost response' })
  await edit(a1, 'visits', newVisit, { outcome: 'ordered three' })
  await sync(a1)
  const rv = await api('GET', `/api/collections/visits/records/${visit.id}`, admin)
  check(rv.outcome === 'first attempt' && rv.notes === 'added after the lost response', `visit after retry: ${rv.outcome} / ${rv.notes}`)
  const self = await api('GET', `/api/collections/sync_conflicts/records?filter=${encodeURIComponent(`record_id='${visit.id}'`)}`, admin)
  check(self.totalItems === 0, `the retry conflicted with itself: ${JSON.stringify(self.items)}`)
  const dupes = await api('GET', `/api/collections/visits/records?filter=${encodeURIComponent(`purpose='offline visit'`)}`, admin)
  check(dupes.totalItems === 1, `${dupes.totalItems} copies of the offline visit`)

  step('deletes both ways')
  const followUp = followUps[0]
  await remove(a1, 'follow_ups', followUp.id)
  // (not the follow-up's own contact: deleting it clears the follow-up's link, an edit on the
  // server, and an edit beats the device's delete, as README says)
  const otherContact = contacts.find((c) => c.id !== contact.id && c.id !== followUp._raw.contact)
  await api('DELETE', `/api/collections/contacts/records/${otherContact.id}`, admin)
  await sync(a1)
  let gone = false
  try {
    await api('GET', `/api/collections/follow_ups/records/${followUp.id}`, admin)
  } catch (e) {
    gone = /404/.test(e.message)
  }
  check(gone, 'the device delete did not reach the server')
  // the push answered sync_again, and the second round deleted the tombstone
  check(!(await find(a1, 'contacts', otherContact.id)), 'the admin delete did not reach the device')

  step('a refused record stays unsynced on the device')
  const refusedLine = await create(a1, 'order_lines', { order: frozen.id, product: product.id, quantity: 1, discount_pct: 0 })
  await sync(a1)
  check((a1.lastPush.experimentalRejectedIds.order_lines || []).includes(refusedLine), 'the line on a frozen order was not refused')
  check((await find(a1, 'order_lines', refusedLine))._raw._status === 'created', 'the refused line did not stay unsynced')
  const logged = await api('GET', `/api/collections/sync_conflicts/records?filter=${encodeURIComponent(`record_id='${refusedLine}'`)}`, admin)
  check(logged.totalItems >= 1 && logged.items[0].resolution === 'rejected', 'the refusal is not logged for admins')

  step('a second device of rep A converges')
  const a2 = makeDevice('a2', repA)
  await sync(a2)
  await edit(a2, 'contacts', contact.id, { phone: '+49 30 9876' })
  await sync(a2)
  await sync(a1)
  check((await find(a1, 'contacts', contact.id))._raw.phone === '+49 30 9876', 'the second device\'s edit did not reach the first')

  step('a customer handed from rep A to rep B')
  const movedVisits = (await all(a1, 'visits')).filter((v) => v._raw.customer === moved.id).map((v) => v.id)
  await api('PATCH', `/api/collections/customers/records/${moved.id}`, admin, { owner: repB.id })
  await sync(a1)
  await sync(a2)
  await sync(b1)
  check(!(await visible(a1, 'customers', moved.id)) && !(await visible(a2, 'customers', moved.id)), 'rep A still shows the moved customer')
  for (const id of movedVisits) {
    check(!(await visible(a1, 'visits', id)), `rep A still shows visit ${id} of the moved customer`)
    check(await find(b1, 'visits', id), `rep B did not receive visit ${id} of the moved customer`)
  }
  check(await find(b1, 'customers', moved.id), 'rep B did not receive the customer')

  step('rep A works offline while the office deletes a visit and hands the customer to rep B')
  await sync(a1)
  await sync(a2)
  await sync(b1)
  const dayVisit = visit._raw.customer === customerId ? visit.id : newVisit
  const friday = 'wants delivery on Fridays'
  await edit(a1, 'visits', dayVisit, { notes: 'promised 5 % off on the next order' })
  await edit(a1, 'customers', customerId, { notes: (await find(a1, 'customers', customerId))._raw.notes + '\n' + friday })
  await edit(a1, 'contacts', contact.id, { title: 'Owner' })
  const loggedVisit = await create(a1, 'visits', {
    customer: customerId, contact: contact.id, purpose: 'tasting', checked_in_at: Date.now(),
    check_in_lat: customer._raw.lat, check_in_lng: customer._raw.lng,
  })
  const promised = await create(a1, 'follow_ups', {
    customer: customerId, contact: contact.id, note: 'send the Friday delivery schedule', status: 'open', due_at: Date.now() + 86400000,
  })
  await edit(a2, 'contacts', contact.id, { phone: '+49 30 5555' }) // the second phone, offline too
  // noon, at the office
  await api('DELETE', `/api/collections/visits/records/${dayVisit}`, admin)
  await api('PATCH', `/api/collections/customers/records/${customerId}`, admin, { owner: repB.id })
  // evening
  await sync(a1)
  await sync(a2)
  await sync(b1)
  const q = (filter) => `?perPage=500&filter=${encodeURIComponent(filter)}`
  const dv = await api('GET', `/api/collections/visits/records/${dayVisit}`, admin)
  check(dv.notes === 'promised 5 % off on the next order' && dv.rep === repA.id, `the deleted visit did not come back with rep A's edit: ${dv.notes} / ${dv.rep}`)
  const dc = await api('GET', `/api/collections/customers/records/${customerId}`, admin)
  check(dc.owner === repB.id && dc.notes.includes(friday), `customer: owner ${dc.owner}, notes ${JSON.stringify(dc.notes)}`)
  const dct = await api('GET', `/api/collections/contacts/records/${contact.id}`, admin)
  check(dct.title === 'Owner' && dct.phone === '+49 30 5555', `contact: ${dct.title} / ${dct.phone}`)
  const lv = await api('GET', `/api/collections/visits/records/${loggedVisit}`, admin)
  check(lv.rep === repA.id && lv.customer === customerId, `the visit logged offline: rep ${lv.rep}, customer ${lv.customer}`)
  const pf = await api('GET', `/api/collections/follow_ups/records/${promised}`, admin)
  check(pf.assignee === repB.id && pf.note === 'send the Friday delivery schedule', `the promise: assignee ${pf.assignee}`)
  const stillA = await api('GET', `/api/collections/follow_ups/records${q(`customer='${customerId}' && status='open' && assignee!='${repB.id}'`)}`, admin)
  check(stillA.totalItems === 0, `${stillA.totalItems} open follow-ups of the customer are not rep B's`)
  const told = await api('GET', `/api/collections/notifications/records${q(`user='${repB.id}' && kind='follow_ups_handed_over'`)}`, admin)
  check(told.items.some((n) => JSON.parse(JSON.stringify(n.data)).follow_ups.includes(promised)), 'rep B was not told of the promise')
  const restored = await api('GET', `/api/collections/sync_conflicts/records${q(`record_id='${dayVisit}' && resolution='restored'`)}`, admin)
  check(restored.totalItems >= 1, 'the restored visit is not logged for admins')
  // the new owner's phone holds all of it
  check((await visible(b1, 'visits', dayVisit))?._raw.notes === dv.notes, 'rep B lacks the restored visit')
  check(await visible(b1, 'visits', loggedVisit), 'rep B lacks the visit rep A logged offline')
  check((await visible(b1, 'follow_ups', promised))?._raw.assignee === repB.id, 'rep B lacks the promise')
  check((await visible(b1, 'customers', customerId))?._raw.notes.includes(friday), 'rep B lacks the customer notes')
  // rep A's phones hold nothing of the customer, and nothing unsynced
  for (const dev of [a1, a2]) {
    check(!(await find(dev, 'customers', customerId)), `${dev.name} still holds the customer`)
    for (const t of ['contacts', 'visits', 'follow_ups', 'orders']) {
      const left = (await all(dev, t)).filter((r) => r._raw.customer === customerId)
      check(left.length === 0, `${dev.name} still holds ${left.length} ${t} of the customer`)
    }
    const dirty = []
    for (const t of serverSchema.tables) {
      for (const r of await all(dev, t.name)) if (r._raw._status !== 'synced' && r.id !== refusedLine) dirty.push(`${t.name}#${r.id}`)
    }
    check(dirty.length === 0, `${dev.name} has unsynced records: ${dirty.join(', ')}`)
  }

  step('a deal created offline and moved along the funnel')
  {
    const stages = (await all(a1, 'stages')).sort((x, y) => x._raw.position - y._raw.position)
    check(stages.length >= 4, `rep A's phone has ${stages.length} stages`)
    const mine = (await all(a1, 'customers')).find((c) => c._raw.removed_at == null)
    const deal = await create(a1, 'opportunities', {
      customer: mine.id, title: 'Coffee corner', amount: 2400, currency: 'EUR', stage: stages[0].id,
      expected_close: Date.now() + 20 * 86400000,
    })
    await sync(a1)
    for (const st of [stages[1], stages[2], stages[3]]) {
      await edit(a1, 'opportunities', deal, { stage: st.id })
      await sync(a1)
    }
    const onPhone = (await find(a1, "opportunities", deal))._raw
    check(onPhone.probability === stages[3]._raw.win_rate && onPhone.weighted_amount === 2400 * stages[3]._raw.win_rate / 100,
      `the server's figures did not reach the phone: ${onPhone.probability} / ${onPhone.weighted_amount}`)
    const hist = await api('GET', `/api/collections/opportunity_history/records?sort=entered_at&filter=${encodeURIComponent(`opportunity='${deal}'`)}`, admin)
    const seen = hist.items.map((h) => h.stage)
    check(JSON.stringify(seen) === JSON.stringify(stages.slice(0, 4).map((s) => s.id)), `history: ${JSON.stringify(seen)}`)
    check(hist.items.every((h) => h.user === repA.id) && hist.items.filter((h) => !h.left_at).length === 1, `history lines: ${JSON.stringify(hist.items)}`)
  }

  step('a heavy offline week goes through in parts')
  {
    const mine = (await all(a1, 'customers')).filter((c) => c._raw.removed_at == null)
    const contactsOf = new Map()
    for (const c of (await all(a1, 'contacts')).filter((c) => c._raw.removed_at == null)) contactsOf.set(c._raw.customer, c.id)
    let records = 0
    for (let day = 0; day < 5; day++) {
      for (let i = 0; i < 12; i++) {
        const c = mine[(day * 12 + i) % mine.length]
        const v = await create(a1, 'visits', { customer: c.id, purpose: 'week-visit', notes: `day ${day} visit ${i}: shelf check, talked stock and prices`, checked_in_at: Date.now() })
        await create(a1, 'follow_ups', { customer: c.id, visit: v, note: `day ${day}: call back about the order`, status: 'open', due_at: Date.now() + 86400000 * (day + 1) })
        records += 2
        if (i % 2 === 0) {
          const o = await create(a1, 'orders', { customer: c.id, visit: v, status: 'draft', currency: product._raw.currency, notes: `week order ${day}/${i}` })
          for (let l = 0; l < 8; l++) await create(a1, 'order_lines', { order: o, product: product.id, quantity: 1 + l, discount_pct: 0 })
          records += 9
        }
        if (contactsOf.has(c.id) && i % 2 === 1) {
          await edit(a1, 'contacts', contactsOf.get(c.id), { title: `Buyer (week ${day})` })
          records++
        }
      }
    }
    a1.partSize = 150
    await sync(a1)
    a1.partSize = undefined
    const first = a1.pushes[0]
    process.stdout.write(`  heavy week: ${records} records, ${(first.bytes / 1024).toFixed(0)} KB of JSON, pushed in ${first.parts} parts\n`)
    check(first.parts > 1, `the week went in ${first.parts} part(s)`)
    check(first.rejected.length === 0 || first.rejected.every((r) => r.id === refusedLine), `the week was refused: ${JSON.stringify(first.rejected.slice(0, 3))}`)
    const onServer = await api('GET', `/api/collections/visits/records?perPage=1&filter=${encodeURIComponent(`purpose='week-visit'`)}`, admin)
    check(onServer.totalItems === 60, `${onServer.totalItems} of 60 week visits on the server`)
    const lines = await api('GET', `/api/collections/order_lines/records?perPage=1&filter=${encodeURIComponent(`order.notes~'week order'`)}`, admin)
    check(lines.totalItems === 240, `${lines.totalItems} of 240 week order lines on the server`)
  }

  step('every device equals the server')
  await sync(a1)
  await sync(a2)
  await sync(b1)
  await compare(a1, [refusedLine])
  await compare(a2)
  await compare(b1)
  check(diagnostics.length === 0, `WatermelonDB reported:\n${diagnostics.join('\n')}`)
  process.stdout.write(`ok: ${steps.length} steps, ${a1.pulls + a2.pulls + b1.pulls} pulls, no diagnostics\n`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`FAIL: ${e.stack || e}\n`)
    if (diagnostics.length) process.stderr.write(`WatermelonDB diagnostics:\n${diagnostics.join('\n')}\n`)
    process.exit(1)
  },
)
