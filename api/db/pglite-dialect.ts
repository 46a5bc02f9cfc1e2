/**
 * Kysely dialect for PGlite (embedded PostgreSQL in WebAssembly).
 *
 * Kysely 0.29 ships one, but declares Node >= 22; printmq targets Node 20, so it pins
 * kysely 0.28 and carries this small dialect instead. As in kysely's own, only the
 * driver differs from the Postgres dialect: adapter, compiler and introspector are
 * Postgres's. PGlite has a single connection, so the driver hands it out to one user
 * at a time: a transaction holds it until commit or rollback.
 */
import type { PGlite } from '@electric-sql/pglite'
import {
  CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler,
  type DatabaseConnection, type DatabaseIntrospector, type Dialect, type DialectAdapter,
  type Driver, type Kysely, type QueryCompiler, type QueryResult, type TransactionSettings
} from 'kysely'

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite
  constructor (pglite: PGlite) { this.#pglite = pglite }

  async executeQuery<R> (query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#pglite.query<R>(query.sql, [...query.parameters])
    const kind = query.query.kind
    const changes = kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode'
    return {
      rows: result.rows,
      ...(changes || result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows ?? 0) } : {})
    }
  }

  // eslint-disable-next-line require-yield
  async * streamQuery<R> (): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on PGlite')
  }
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite
  readonly #connection: PGliteConnection
  #tail: Promise<void> = Promise.resolve()
  readonly #releases = new Map<DatabaseConnection, () => void>()

  constructor (pglite: PGlite) {
    this.#pglite = pglite
    this.#connection = new PGliteConnection(pglite)
  }

  async init (): Promise<void> { await this.#pglite.waitReady }

  async acquireConnection (): Promise<DatabaseConnection> {
    const previous = this.#tail
    let release!: () => void
    this.#tail = new Promise<void>((resolve) => { release = resolve })
    await previous
    this.#releases.set(this.#connection, release)
    return this.#connection
  }

  async beginTransaction (connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel !== undefined ? ` isolation level ${settings.isolationLevel}` : ''
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`))
  }

  async commitTransaction (connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction (connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async releaseConnection (connection: DatabaseConnection): Promise<void> {
    const release = this.#releases.get(connection)
    this.#releases.delete(connection)
    release?.()
  }

  async destroy (): Promise<void> {
    await this.#tail
    if (!this.#pglite.closed) await this.#pglite.close()
  }
}

/** A Kysely dialect over one PGlite instance. */
export class PGliteDialect implements Dialect {
  readonly #pglite: PGlite
  constructor (pglite: PGlite) { this.#pglite = pglite }
  createAdapter (): DialectAdapter { return new PostgresAdapter() }
  createDriver (): Driver { return new PGliteDriver(this.#pglite) }
  createIntrospector (db: Kysely<any>): DatabaseIntrospector { return new PostgresIntrospector(db) }
  createQueryCompiler (): QueryCompiler { return new PostgresQueryCompiler() }
}
