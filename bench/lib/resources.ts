/** Ports and databases the benchmarks borrow. */
import { once } from 'node:events'
import { createServer } from 'node:net'
import pg from 'pg'

/** A port free on 127.0.0.1 right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

/** A fresh database on the PostgreSQL server of `adminUrl`, dropped by `drop()`. */
export async function createDatabase (adminUrl: string): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `printmq_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  const admin = async (text: string): Promise<void> => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try { await client.query(text) } finally { await client.end() }
  }
  await admin(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: async () => { await admin(`drop database if exists ${name} with (force)`) } }
}
