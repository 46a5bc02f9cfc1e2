/** `printmq migrate`: apply pending migrations to the configured database and exit. */
import { parseArgs } from 'node:util'
import { migrateToLatest, openDatabase } from '../api/db/database.js'
import { createLogger } from '../shared/logger.js'
import { loadServerConfig } from '../server/config.js'

export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } })
  if (values.help === true) { console.log('usage: printmq migrate [--data-dir DIR]\n\nMigrates PRINTMQ_MIGRATION_DATABASE_URL (the owner), else DATABASE_URL, else PGlite under the data dir.'); return }
  const config = loadServerConfig(env, values)
  const logger = createLogger({ level: config.logLevel })
  const url = config.migrationDatabaseUrl ?? config.databaseUrl
  const database = await openDatabase(url !== null ? { kind: 'postgres', url } : { kind: 'pglite', dataDir: config.dataDir })
  try {
    await migrateToLatest(database.db, logger.child({ component: 'db' }))
    logger.info({ database: database.kind }, 'migrations complete')
  } finally {
    await database.close()
  }
}
