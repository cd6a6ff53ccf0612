// The phone's database: WatermelonDB on LokiJS, kept in IndexedDB, built
// from the server's /api/sync/schema (kept in localStorage, so that the app
// opens offline). Records are read and written through their raw columns,
// as the sync carries them.
import { Database, Model, Q, appSchema, tableSchema } from '@nozbe/watermelondb'
import { addColumns, createTable, schemaMigrations } from '@nozbe/watermelondb/Schema/migrations'
import LokiJSAdapterModule from '@nozbe/watermelondb/adapters/lokijs'

// a CommonJS module whose export is `default`
const LokiJSAdapter = LokiJSAdapterModule.default || LokiJSAdapterModule

export { Q }

const SCHEMA_KEY = 'rounds_schema'

// loadSchema reads the server's schema (and keeps it), or the one kept from
// last time when the server cannot be reached; null when neither.
export async function loadSchema(base) {
  try {
    const res = await fetch(base + '/api/sync/schema')
    if (res.ok) {
      const schema = await res.json()
      const kept = localStorage.getItem(SCHEMA_KEY)
      // kept unless the server went back to an older version; a newer one
      // migrates the phone's database in place (migrations below), unsent
      // changes kept
      if (!kept || JSON.parse(kept).version <= schema.version) localStorage.setItem(SCHEMA_KEY, JSON.stringify(schema))
      return schema
    }
  } catch {
    // offline: the kept schema
  }
  const kept = localStorage.getItem(SCHEMA_KEY)
  return kept ? JSON.parse(kept) : null
}

// column is WatermelonDB's part of a schema column (Rounds' isRequired and
// isServerOwned are not WatermelonDB's).
const column = (c) => ({ name: c.name, type: c.type, isOptional: c.isOptional, isIndexed: c.isIndexed })

// migrations are the server's schema steps in WatermelonDB's form: a phone
// whose database was built at an older version adds the new columns and
// tables in place, and its next sync pulls their values (the sync passes
// migrationsEnabledAtVersion).
export function migrations(schema) {
  return schemaMigrations({
    migrations: (schema.migrations || []).map((m) => ({
      toVersion: m.toVersion,
      steps: m.steps.map((st) => (st.type === 'create_table'
        ? createTable({ name: st.schema.name, columns: st.schema.columns.map(column) })
        : addColumns({ table: st.table, columns: st.columns.map(column) }))),
    })),
  })
}

// MIGRATED_FROM is the oldest schema a phone's database may have been built
// at with this app (it first shipped at version 4): a phone that never
// recorded the version of its last pull is taken to be there.
export const MIGRATED_FROM = 4

export function openDatabase(schema, name, { onQuotaExceeded, onVersionChange }) {
  const adapter = new LokiJSAdapter({
    dbName: name,
    schema: appSchema({
      version: schema.version,
      tables: schema.tables.map((t) => tableSchema({ name: t.name, columns: t.columns.map(column) })),
    }),
    migrations: migrations(schema),
    useWebWorker: false,
    useIncrementalIndexedDB: true,
    onQuotaExceededError: onQuotaExceeded,
    onIndexedDBVersionChange: onVersionChange,
  })
  const modelClasses = schema.tables.map((t) => {
    const cls = class extends Model {}
    cls.table = t.name
    return cls
  })
  const database = new Database({ adapter, modelClasses })
  let loki = null
  // flush writes LokiJS's memory to IndexedDB now: a write is not on disk when
  // database.write() resolves (autosave runs every half second), and a page
  // closed in between would lose it.
  database.flush = async () => {
    if (!loki) {
      await adapter.unsafeExecute({ loki: (l) => { loki = l } })
    }
    await new Promise((resolve) => loki.saveDatabase(() => resolve()))
  }
  return database
}

// live lists the raw records of a table that the server has not removed.
export async function live(database, table, ...conditions) {
  const where = table === 'products' || table === 'stages' ? conditions : [Q.where('removed_at', null), ...conditions]
  const rows = await database.get(table).query(...where).fetch()
  return rows.map((r) => r._raw)
}

export async function find(database, table, id) {
  try {
    const r = await database.get(table).find(id)
    return r._raw.removed_at ? null : r._raw
  } catch {
    return null
  }
}

// create writes a new record and returns its id; values are raw columns.
export async function create(database, table, values) {
  let id
  await database.write(async () => {
    const r = await database.get(table).create((rec) => {
      for (const [k, v] of Object.entries(values)) rec._setRaw(k, v)
      rec._setRaw('created', Date.now())
      rec._setRaw('updated', Date.now())
    })
    id = r.id
  })
  await database.flush()
  return id
}

export async function update(database, table, id, values) {
  await database.write(async () => {
    const r = await database.get(table).find(id)
    await r.update((rec) => {
      for (const [k, v] of Object.entries(values)) rec._setRaw(k, v)
      rec._setRaw('updated', Date.now())
    })
  })
  await database.flush()
}

// unsynced counts the records with changes the server has not had.
export async function unsynced(database, tables) {
  let n = 0
  for (const t of tables) n += await database.get(t).query(Q.where('_status', Q.notEq('synced'))).fetchCount()
  return n
}
