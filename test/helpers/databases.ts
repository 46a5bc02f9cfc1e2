/**
 * The databases a suite runs on: in-memory PGlite always; PostgreSQL too when
 * PRINTMQ_TEST_POSTGRES_URL is set (each call gets a fresh database, dropped at teardown).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import type { DatabaseLocation } from '../../api/db/database.js'

/** A database a suite can run on. */
export interface TestDatabase {
  readonly name: 'pglite' | 'postgres'
  /** Creates the database (for postgres) and registers its removal with `t`. */
  readonly create: (t: Test) => Promise<DatabaseLocation>
}

/** The URL of the PostgreSQL server for tests, if any. */
export const TEST_POSTGRES_URL = process.env.PRINTMQ_TEST_POSTGRES_URL ?? null

/** Every database this run covers. */
export function testDatabases (): TestDatabase[] {
  const list: TestDatabase[] = [{ name: 'pglite', create: async () => ({ kind: 'pglite', dataDir: null }) }]
  const url = TEST_POSTGRES_URL
  if (url !== null) {
    list.push({
      name: 'postgres',
      create: async (t) => {
        const name = `printmq_test_${randomBytes(6).toString('hex')}`
        await adminQuery(url, `create database ${name}`)
        t.teardown(async () => { await adminQuery(url, `drop database if exists ${name} with (force)`) })
        const dbUrl = new URL(url)
        dbUrl.pathname = `/${name}`
        return { kind: 'postgres', url: dbUrl.toString() }
      }
    })
  }
  return list
}

async function adminQuery (url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try { await client.query(text) } finally { await client.end() }
}
