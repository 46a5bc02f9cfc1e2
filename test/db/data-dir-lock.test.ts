/**
 * One process at a time on a PGlite data directory: `printmq mosquitto-files` (or
 * `migrate`) run beside a server holding the same directory is refused with
 * PRINTMQ_DATA_DIR_IN_USE before it opens a file; it works once the server stopped. A
 * lock left by a process that died is taken over. A directory no server migrated gets a
 * reason, not a stack trace.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { DATA_DIR_LOCK_FILE, lockDataDir } from '../../api/db/data-dir-lock.js'
import { openDatabase } from '../../api/db/database.js'
import { startTestServer } from '../helpers/server.js'

const bin = fileURLToPath(new URL('../../bin/printmq.js', import.meta.url))

async function printmq (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number, stderr: string, stdout: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), stderr, stdout })
    })
  })
}

t.test('a command beside a running server on the same PGlite directory is refused, then works once it stopped', async (t) => {
  const dir = t.testdir()
  const dataDir = join(dir, 'data')
  const server = await startTestServer(t, { database: { kind: 'pglite', dataDir } })
  const lockFile = join(dataDir, DATA_DIR_LOCK_FILE)
  t.equal((await readFile(lockFile, 'utf8')).trim(), String(process.pid), 'the lock names the server process')
  const env = { PRINTMQ_MQTT_PASSWORD: 'service-secret', PRINTMQ_LOG_LEVEL: 'silent' }
  const refused = await printmq(['mosquitto-files', '--out', join(dir, 'files'), '--data-dir', dataDir], env)
  t.equal(refused.code, 1)
  t.equal(refused.stderr.trim(), `printmq mosquitto-files: the PGlite database in ${dataDir} is open in process ${process.pid} (a printmq server?); stop it first, or use DATABASE_URL (PostgreSQL) to share a database; if no such process runs, delete ${lockFile} (PRINTMQ_DATA_DIR_IN_USE)`)
  t.notOk(existsSync(join(dir, 'files', 'acl')), 'nothing written')
  const migrate = await printmq(['migrate', '--data-dir', dataDir], env)
  t.equal(migrate.code, 1)
  t.match(migrate.stderr, /PRINTMQ_DATA_DIR_IN_USE/)

  await server.server.stop()
  t.notOk(existsSync(lockFile), 'stopping the server released the lock')
  const written = await printmq(['mosquitto-files', '--out', join(dir, 'files'), '--data-dir', dataDir], env)
  t.equal(written.code, 0, written.stderr)
  t.ok(existsSync(join(dir, 'files', 'acl')))
})

t.test('a second open in the same process is refused too', async (t) => {
  const dir = t.testdir()
  const release = await lockDataDir(dir)
  await t.rejects(lockDataDir(dir), { code: 'PRINTMQ_DATA_DIR_IN_USE' })
  await release()
  const again = await lockDataDir(dir)
  await again()
})

t.test('a lock whose process is gone is taken over', async (t) => {
  const dir = t.testdir()
  const gone = spawnSync(process.execPath, ['-e', '0']).pid as number
  await writeFile(join(dir, DATA_DIR_LOCK_FILE), `${gone}\n`)
  const database = await openDatabase({ kind: 'pglite', dataDir: dir })
  t.equal((await readFile(join(dir, DATA_DIR_LOCK_FILE), 'utf8')).trim(), String(process.pid))
  await database.close()
  t.notOk(existsSync(join(dir, DATA_DIR_LOCK_FILE)))
})

t.test('mosquitto-files on a directory no server ever ran on says so instead of a stack trace', async (t) => {
  const dir = t.testdir()
  const result = await printmq(['mosquitto-files', '--out', join(dir, 'files'), '--data-dir', join(dir, 'empty')], { PRINTMQ_MQTT_PASSWORD: 'service-secret', PRINTMQ_LOG_LEVEL: 'silent' })
  t.equal(result.code, 1, result.stderr)
  t.match(result.stderr, /--data-dir.*the database has no printmq tables yet: start `printmq server` on it once/)
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
  t.notOk(existsSync(join(dir, 'files', 'acl')), 'nothing written')
  t.notOk(existsSync(join(dir, 'empty', DATA_DIR_LOCK_FILE)), 'the lock is released')
})
