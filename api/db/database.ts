/**
 * Opens the database: PostgreSQL through `pg` when a URL is given, otherwise PGlite
 * under the data dir. The only file that knows which one it is.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Kysely, Migrator, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Logger } from '../../shared/logger.js'
import { lockDataDir } from './data-dir-lock.js'
import type { Database } from './schema.js'
import { migrationProvider } from './migrations.js'
import { PGliteDialect } from './pglite-dialect.js'
import { enableCombinedBegin } from './tenant-scope.js'

/** Where the database is. */
export type DatabaseLocation =
  | { readonly kind: 'postgres', readonly url: string, readonly poolSize?: number }
  | { readonly kind: 'pglite', readonly dataDir: string | null }

/** An open database. */
export interface OpenDatabase {
  readonly db: Kysely<Database>
  readonly kind: 'postgres' | 'pglite'
  /** Connection pool counts (PostgreSQL); `null` for PGlite, which has one connection. */
  poolStats (): { total: number, idle: number, waiting: number } | null
  close (): Promise<void>
}

/** Open the database (no migrations; see {@link migrateToLatest}). */
export async function openDatabase (location: DatabaseLocation): Promise<OpenDatabase> {
  if (location.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: location.url,
      max: location.poolSize ?? 10,
      // Fail fast while the database is unreachable (the API answers 503) instead of
      // queueing requests forever; ms.
      connectionTimeoutMillis: 5000,
      query_timeout: 15_000
    })
    // An idle client that loses its server emits 'error' on the pool; without a listener
    // that would crash the process. The next query gets a fresh connection.
    pool.on('error', () => {})
    // A checked-out client (inside a transaction, between statements) that loses its
    // server emits 'error' itself; its next query then fails and the request gets 503.
    pool.on('connect', (client) => { client.on('error', () => {}) })
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    enableCombinedBegin(db)
    return {
      db,
      kind: 'postgres',
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      close: () => db.destroy()
    }
  }
  const { PGlite } = await import('@electric-sql/pglite')
  let pglite
  let unlock = async (): Promise<void> => {}
  if (location.dataDir === null) {
    pglite = await PGlite.create()
  } else {
    await mkdir(location.dataDir, { recursive: true })
    // One process at a time on these files (data-dir-lock.ts).
    unlock = await lockDataDir(location.dataDir)
    try {
      pglite = await PGlite.create(join(location.dataDir, 'pglite'))
    } catch (err) {
      await unlock()
      throw err
    }
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  return {
    db,
    kind: 'pglite',
    poolStats: () => null,
    close: async () => {
      try { await db.destroy() } finally { await unlock() }
    }
  }
}

/** Run every pending migration; throws when one fails. */
export async function migrateToLatest (db: Kysely<Database>, log: Logger): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'printmq_migrations', migrationLockTableName: 'printmq_migrations_lock' })
  const { error, results } = await migrator.migrateToLatest()
  for (const result of results ?? []) {
    if (result.status === 'Success') log.info({ migration: result.migrationName }, 'migration applied')
    else if (result.status === 'Error') log.error({ migration: result.migrationName }, 'migration failed')
  }
  if (error !== undefined) throw error
}

/**
 * Migrate `database`; on PostgreSQL through `ownerUrl` when given, so the API's own
 * login role needs no DDL rights (see README, "Production database").
 */
export async function runMigrations (database: OpenDatabase, ownerUrl: string | null, log: Logger): Promise<void> {
  if (ownerUrl === null || database.kind !== 'postgres') {
    await migrateToLatest(database.db, log)
    return
  }
  const owner = await openDatabase({ kind: 'postgres', url: ownerUrl, poolSize: 1 })
  try {
    await migrateToLatest(owner.db, log)
  } finally {
    await owner.close()
  }
}
