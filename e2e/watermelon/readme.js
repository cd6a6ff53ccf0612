// README's sync client, run as printed against a running Rounds server.
//
// The code block between <!-- sync-client:begin --> and <!-- sync-client:end -->
// in README.md is written to .readme-client.mjs and imported; the one change
// is the import path of WatermelonDB's sync module, which bundlers resolve as
// written and Node's ES module loader needs spelled out (sync/index.js).
// Then a rep signs in and syncs a real WatermelonDB database through it: a
// first sync, offline work with one record the server refuses (the client
// must hand back the reason, keep the record unsynced and keep it in
// localStorage), the record fixed, a heavy batch sent in parts, a busy
// server (429 with Retry-After), and a signed-out token (401, nothing lost).
//
// Environment: ROUNDS_URL, REP_A_EMAIL, REP_PASSWORD.
'use strict'

const fs = require('fs')
const path = require('path')
const { Database, Model, appSchema, tableSchema, Q } = require('@nozbe/watermelondb')
const { schemaMigrations, addColumns, createTable } = require('@nozbe/watermelondb/Schema/migrations')
const { LokiMemoryAdapter } = require('lokijs')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
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

function check(cond, message) {
  if (!cond) throw new Error(message)
}
function step(name) {
  process.stdout.write(`- ${name}\n`)
}

// every request the client makes goes through here: counted, and a 429 can be staged
const realFetch = globalThis.fetch
const seen = { pushes: 0 }
let busyOnce = false
globalThis.fetch = async (url, init = {}) => {
  if (String(url).includes('/api/sync/pull')) seen.lastPull = String(url)
  if (String(url).includes('/api/sync/push')) {
    seen.pushes++
    if (busyOnce) {
      busyOnce = false
      return new Response(JSON.stringify({ status: 429, message: 'The server is busy' }), { status: 429, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' } })
    }
  }
  return realFetch(url, init)
}

async function loadClient() {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8')
  const m = readme.match(/<!-- sync-client:begin -->\s*```js\n([\s\S]*?)```\s*<!-- sync-client:end -->/)
  check(m, 'README has no sync client between the markers')
  const code = m[1].replace("from '@nozbe/watermelondb/sync'", "from '@nozbe/watermelondb/sync/index.js'")
  const file = path.join(__dirname, '.readme-client.mjs')
  fs.writeFileSync(file, code)
  return import(file)
}

// The server's schema in WatermelonDB's forms (as the reps' app builds its
// database, app/src/db.js): appSchema, and schemaMigrations from its steps.
const column = (c) => ({ name: c.name, type: c.type, isOptional: c.isOptional, isIndexed: c.isIndexed })
const watermelonSchema = (s) => appSchema({ version: s.version, tables: s.tables.map((t) => tableSchema({ name: t.name, columns: t.columns.map(column) })) })
const watermelonMigrations = (s) => schemaMigrations({
  migrations: s.migrations.map((m) => ({
    toVersion: m.toVersion,
    steps: m.steps.map((st) => (st.type === 'create_table'
      ? createTable({ name: st.schema.name, columns: st.schema.columns.map(column) })
      : addColumns({ table: st.table, columns: st.columns.map(column) }))),
  })),
})

async function main() {
  const { roundsSync } = await loadClient()
  const schema = await (await realFetch(BASE + '/api/sync/schema')).json()
  const login = await (await realFetch(BASE + '/api/collections/users/auth-with-password', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ identity: env('REP_A_EMAIL'), password: env('REP_PASSWORD') }),
  })).json()
  check(login.token, 'sign-in failed')
  let token = login.token

  const adapter = new LokiJSAdapter({
    schema: appSchema({
      version: schema.version,
      tables: schema.tables.map((t) => tableSchema({ name: t.name, columns: t.columns.map((c) => ({ name: c.name, type: c.type, isOptional: c.isOptional, isIndexed: c.isIndexed })) })),
    }),
    useWebWorker: false, useIncrementalIndexedDB: true, extraLokiOptions: { autosave: false },
  })
  const modelClasses = schema.tables.map((t) => { const cls = class extends Model {}; cls.table = t.name; return cls })
  const database = new Database({ adapter, modelClasses })
  const waits = []
  const { sync } = roundsSync({ database, base: BASE, token: () => token, deviceId: 'readme-client-1', schema, onWait: (s) => waits.push(s), partSize: 4 })

  const server = async (p) => {
    const res = await realFetch(BASE + p, { headers: { Authorization: login.token } })
    check(res.ok, `${p}: ${res.status}`)
    return res.json()
  }
  const create = async (table, values) => {
    let rec
    await database.write(async () => {
      rec = await database.get(table).create((r) => { for (const [k, v] of Object.entries(values)) r._setRaw(k, v); r._setRaw('updated', Date.now()) })
    })
    return rec
  }

  step('first sync: the rep\'s territory arrives')
  check((await sync()).length === 0, 'the first sync refused something')
  const customers = await database.get('customers').query().fetch()
  const onServer = await server('/api/sync/pull?last_pulled_at=null&schema_version=' + schema.version)
  check(customers.length > 0 && customers.length === onServer.changes.customers.updated.length, `customers: ${customers.length} local, ${onServer.changes.customers.updated.length} on the server`)
  const customer = customers[0]

  step('offline work with a mistake: the reason comes back, the record stays unsynced')
  const visit = await create('visits', { customer: customer.id, purpose: 'README client visit', planned_at: Date.now() + 86400000 })
  const contact = await create('contacts', { customer: customer.id, name: 'Kim Buyer', birthday: '13-45' })
  let refused = await sync()
  check(refused.length === 1 && refused[0].table === 'contacts' && refused[0].id === contact.id && refused[0].reason.includes('contacts.birthday'),
    `refused: ${JSON.stringify(refused)}`)
  const kept = await database.localStorage.get('syncRefused')
  check(Array.isArray(kept) && kept.length === 1 && kept[0].reason === refused[0].reason, `localStorage syncRefused: ${JSON.stringify(kept)}`)
  check((await database.get('contacts').find(contact.id))._raw._status === 'created', 'the refused contact is no longer unsynced')
  check((await database.get('visits').find(visit.id))._raw._status === 'synced', 'the visit did not sync')
  const visitOnServer = await server(`/api/collections/visits/records/${visit.id}`)
  check(visitOnServer.purpose === 'README client visit', 'the visit is not on the server')

  step('the rep fixes the birthday: nothing refused any more')
  await database.write(async () => { await (await database.get('contacts').find(contact.id)).update((r) => { r._setRaw('birthday', '02-29') }) })
  refused = await sync()
  check(refused.length === 0 && (await database.localStorage.get('syncRefused')).length === 0, `still refused: ${JSON.stringify(refused)}`)
  check((await server(`/api/collections/contacts/records/${contact.id}`)).birthday === '02-29', 'the fixed contact is not on the server')

  step('a heavy batch goes in parts (of 4 here), and a busy server is waited for')
  const before = seen.pushes
  const many = []
  for (let i = 0; i < 10; i++) many.push(await create('follow_ups', { customer: customer.id, note: `README part ${i}`, status: 'open', due_at: Date.now() + 86400000 }))
  busyOnce = true
  check((await sync()).length === 0, 'the batch was refused')
  check(waits.length === 1 && waits[0] === 1, `onWait: ${JSON.stringify(waits)}`)
  check(seen.pushes - before >= 4, `${seen.pushes - before} pushes for 10 records in parts of 4 and one 429`)
  for (const f of many) check((await server(`/api/collections/follow_ups/records/${f.id}`)).note.startsWith('README part'), `follow-up ${f.id} missing`)
  const unsynced = await database.get('follow_ups').query(Q.where('_status', Q.notEq('synced'))).fetchCount()
  check(unsynced === 0, `${unsynced} follow-ups unsynced`)

  step('signed out: sync throws 401, the offline work waits')
  const late = await create('visits', { customer: customer.id, purpose: 'while signed out' })
  token = 'not-a-token'
  let failed
  try { await sync() } catch (e) { failed = e }
  check(failed && failed.status === 401, `sync with a bad token: ${failed && failed.status} ${failed && failed.message}`)
  check((await database.get('visits').find(late.id))._raw._status === 'created', 'the visit made while signed out was lost')
  token = login.token
  check((await sync()).length === 0, 'the sync after signing in again refused something')
  check((await server(`/api/collections/visits/records/${late.id}`)).purpose === 'while signed out', 'the late visit is not on the server')

  step('an upgrade: a database built at the previous version migrates in place, keeps its unsynced edit, and the next sync pulls the added columns')
  const added = schema.migrations.find((m) => m.toVersion === schema.version)
  check(added && added.steps.length > 0, `the schema has no migration to version ${schema.version}`)
  const addedTo = (table) => added.steps.filter((st) => st.type === 'add_columns' && st.table === table).flatMap((st) => st.columns.map((c) => c.name))
  const older = {
    version: schema.version - 1,
    tables: schema.tables.filter((t) => !added.steps.some((st) => st.type === 'create_table' && st.schema.name === t.name))
      .map((t) => ({ ...t, columns: t.columns.filter((c) => !addedTo(t.name).includes(c.name)) })),
    migrations: schema.migrations.filter((m) => m.toVersion < schema.version),
  }
  const store = new LokiMemoryAdapter() // the phone's storage, kept across the upgrade
  const open = (s) => new Database({
    adapter: new LokiJSAdapter({ dbName: 'upgrade', schema: watermelonSchema(s), migrations: watermelonMigrations(s), useWebWorker: false, useIncrementalIndexedDB: true, _testLokiAdapter: store, extraLokiOptions: { autosave: false } }),
    modelClasses: s.tables.map((t) => { const cls = class extends Model {}; cls.table = t.name; return cls }),
  })
  // the office changes what the old version cannot hold
  const patch = await realFetch(BASE + `/api/collections/contacts/records/${contact.id}`, { method: 'PATCH', headers: { Authorization: login.token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ language: 'zh-CN', birthday_calendar: 'lunar', birthday: '08-15' }) })
  check(patch.ok, `the contact's language and calendar: ${patch.status} ${await patch.text()}`)
  const oldDb = open(older)
  check((await roundsSync({ database: oldDb, base: BASE, token: () => token, deviceId: 'readme-upgrade', schema: older, migrationsEnabledAtVersion: older.version }).sync()).length === 0, 'the old version\'s sync refused something')
  const oldContact = (await oldDb.get('contacts').find(contact.id))._raw
  check(oldContact.birthday === '08-15' && !('language' in oldContact), `the old version's contact: ${JSON.stringify(oldContact)}`)
  await oldDb.write(async () => { await (await oldDb.get('visits').find(visit.id)).update((r) => { r._setRaw('purpose', 'edited before the upgrade'); r._setRaw('updated', Date.now()) }) })
  await oldDb.adapter.unsafeExecute({ loki: (l) => l.saveDatabase(() => {}) })
  await new Promise((r) => setTimeout(r, 50))
  const newDb = open(schema)
  const edited = (await newDb.get('visits').find(visit.id))._raw
  check(edited._status === 'updated' && edited.purpose === 'edited before the upgrade', `after the upgrade the unsynced visit is ${edited._status}: ${edited.purpose}`)
  check((await newDb.get('contacts').find(contact.id))._raw.language === '', 'the migrated contact does not have the new column')
  check((await roundsSync({ database: newDb, base: BASE, token: () => token, deviceId: 'readme-upgrade', schema, migrationsEnabledAtVersion: older.version }).sync()).length === 0, 'the sync after the upgrade refused something')
  check(/[?&]migration=%7B/.test(seen.lastPull) || /[?&]migration=\{/.test(seen.lastPull), `the sync after the upgrade sent no migration: ${seen.lastPull}`)
  const migrated = (await newDb.get('contacts').find(contact.id))._raw
  check(migrated.language === 'zh-CN' && migrated.birthday_calendar === 'lunar', `after the migration sync the contact is ${JSON.stringify(migrated)}`)
  check((await server(`/api/collections/visits/records/${visit.id}`)).purpose === 'edited before the upgrade', 'the edit made before the upgrade is not on the server')

  check(diagnostics.length === 0, `WatermelonDB diagnostics: ${diagnostics.join('; ')}`)
  step('README client: ok')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
