/**
 * One process at a time on a PGlite data directory. PGlite is PostgreSQL in this
 * process, without a server in between: two processes opening the same files (the
 * server, and `printmq mosquitto-files` or `printmq migrate` run beside it) would each
 * see a copy of their own and may overwrite each other's pages. The lock is a file
 * holding the owner's process id, created exclusively; a lock whose process is gone
 * (a crash, a kill) is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { defineError } from '../../shared/errors.js'

/** Name of the lock file inside the data directory. */
export const DATA_DIR_LOCK_FILE = 'pglite.lock'

/** Another live process holds the data directory. */
export const DataDirInUseError = defineError('PRINTMQ_DATA_DIR_IN_USE', 500, (dir: string, pid: number, lockFile: string) =>
  `the PGlite database in ${dir} is open in process ${pid} (a printmq server?); stop it first, or use DATABASE_URL (PostgreSQL) to share a database; if no such process runs, delete ${lockFile}`)

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Lock files this process holds (a second open in the same process is refused too). */
const held = new Set<string>()

/** Take the lock of `dir` for this process; resolves with the function that releases it. */
export async function lockDataDir (dir: string): Promise<() => Promise<void>> {
  const path = join(dir, DATA_DIR_LOCK_FILE)
  if (held.has(path)) throw new DataDirInUseError(dir, process.pid, path)
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx')
      held.add(path)
      try { await handle.writeFile(`${process.pid}\n`) } finally { await handle.close() }
      return async () => {
        if (!held.delete(path)) return
        await rm(path, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) throw new DataDirInUseError(dir, pid, path)
      // Left by a process that is gone (or by an earlier life of this process id, as
      // when a container restarts): take it over.
      await rm(path, { force: true })
    }
  }
}
