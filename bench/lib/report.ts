/** How a benchmark scenario reports: one JSON line (machine-readable) and a table. */
import { cpus, totalmem } from 'node:os'

/** Machine facts printed with every result. */
export function machine (): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString()
  }
}

/** Print a scenario's result as a JSON line and as a readable table of `rows`. */
export function report (scenario: string, result: Record<string, unknown>, rows: Array<Record<string, unknown>>): void {
  console.log(JSON.stringify({ scenario, machine: machine(), ...result }))
  if (rows.length > 0) console.table(rows)
}
