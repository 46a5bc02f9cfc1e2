/**
 * printmq's embedded broker alone, with license authentication and the ACL on, for the
 * broker benchmarks: a PGlite database (in BENCH_DATA_DIR) seeded with BENCH_AGENTS
 * agents of tenant `bench`, branch `b1`, whose license keys are written to
 * BENCH_LICENSES_FILE (or PostgreSQL at BENCH_DATABASE_URL, which must be empty at
 * first). A service login (BENCH_SERVICE_PASSWORD) may publish jobs.
 * Prints `{"port":N}` on standard output when listening.
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createLicenseVerifier } from '../../api/agents/license-verifier.js'
import { migrateToLatest, openDatabase } from '../../api/db/database.js'
import { insertBranch } from '../../api/db/branches-repository.js'
import { withTenant } from '../../api/db/tenant-scope.js'
import { createAuthenticator } from '../../broker/authenticator.js'
import { PrintmqBroker } from '../../broker/broker.js'
import { createLicenseKey, hashLicenseKey } from '../../shared/license.js'
import { createLogger } from '../../shared/logger.js'

const agents = Number(process.env.BENCH_AGENTS ?? '1000')
const dataDir = process.env.BENCH_DATA_DIR as string
const licensesFile = process.env.BENCH_LICENSES_FILE as string
const port = Number(process.env.BENCH_PORT ?? '0')
const logger = createLogger({ level: 'warn' })

const database = await openDatabase(process.env.BENCH_DATABASE_URL !== undefined ? { kind: 'postgres', url: process.env.BENCH_DATABASE_URL } : { kind: 'pglite', dataDir })
await migrateToLatest(database.db, logger)
if (!existsSync(licensesFile)) {
  const keys: string[] = []
  await withTenant(database.db, 'bench', async (trx) => {
    await insertBranch(trx, 'bench', { id: 'b1', name: null })
    for (let start = 0; start < agents; start += 500) {
      const rows = []
      for (let i = start; i < Math.min(agents, start + 500); i++) {
        const key = createLicenseKey({ tenant: 'bench', branch: 'b1', agent: `a${i}` })
        keys.push(key)
        rows.push({ tenant_id: 'bench', branch_id: 'b1', id: `a${i}`, name: null, license_hash: hashLicenseKey(key), license_issued_at: new Date() })
      }
      await trx.insertInto('agents').values(rows).execute()
    }
  })
  await writeFile(licensesFile, JSON.stringify(keys))
} else {
  JSON.parse(await readFile(licensesFile, 'utf8'))
}

const broker = new PrintmqBroker({
  host: '127.0.0.1',
  port,
  logger,
  authenticate: createAuthenticator({ servicePassword: process.env.BENCH_SERVICE_PASSWORD ?? 'bench', verifyLicense: createLicenseVerifier(database.db) })
})
const started = await broker.start()
process.stdout.write(JSON.stringify({ port: started.port }) + '\n')
const stop = async (): Promise<void> => { await broker.stop(); await database.close(); process.exit(0) }
process.on('SIGTERM', () => { void stop() })
process.on('SIGINT', () => { void stop() })
