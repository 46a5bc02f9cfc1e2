/** CPU time and resident memory of a process, read from /proc (Linux). */
import { readFile } from 'node:fs/promises'

const TICKS_PER_SECOND = 100

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / TICKS_PER_SECOND
}

/** CPU seconds of every process named `name` (e.g. PostgreSQL's backends), by pid. */
export async function cpuSecondsByName (name: string): Promise<Map<number, number>> {
  const { readdir } = await import('node:fs/promises')
  const result = new Map<number, number>()
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')
    if (comm.trim() !== name) continue
    const seconds = await cpuSeconds(pid).catch(() => null)
    if (seconds !== null) result.set(pid, seconds)
  }
  return result
}

/**
 * CPU seconds the processes of `after` used since `before` (both from
 * {@link cpuSecondsByName}); a process that exited in between is not counted.
 */
export function cpuSecondsSince (before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0)
  return total
}

/** Resident set size of a process in bytes. */
export async function rssBytes (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}
