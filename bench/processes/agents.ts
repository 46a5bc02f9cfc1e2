/**
 * Branch side of the end-to-end benchmark, in its own process: one VirtualPrinter and
 * one Agent per license given over IPC. Reports how many tickets were printed.
 */
import { Agent } from '../../agent/agent.js'
import { createLogger } from '../../shared/logger.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'

type Command =
  | { type: 'printers', count: number }
  | { type: 'agents', url: string, licenses: string[], stateDir: string }
  | { type: 'report' }
  | { type: 'exit' }

const logger = createLogger({ level: 'warn' })
const printers: VirtualPrinter[] = []
const agents: Agent[] = []

function send (message: unknown): void { process.send?.(message) }

process.on('message', (command: Command) => {
  const run = async (): Promise<void> => {
    switch (command.type) {
      case 'printers': {
        for (let i = 0; i < command.count; i++) {
          const printer = new VirtualPrinter({ port: 0 })
          await printer.start()
          printers.push(printer)
        }
        send({ type: 'printers', ports: printers.map((p) => p.port) })
        break
      }
      case 'agents': {
        await Promise.all(command.licenses.map(async (licenseKey, i) => {
          const agent = new Agent({ url: command.url, licenseKey, stateDir: `${command.stateDir}/${i}`, logger, healthIntervalMs: 60_000 })
          await agent.start()
          await agent.waitUntilOnline(60_000)
          agents.push(agent)
        }))
        send({ type: 'agents' })
        break
      }
      case 'report':
        send({ type: 'report', tickets: printers.reduce((sum, p) => sum + p.tickets.length, 0), rss: process.memoryUsage().rss, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 })
        break
      case 'exit':
        await Promise.all(agents.map((a) => a.stop()))
        await Promise.all(printers.map((p) => p.stop()))
        process.exit(0)
    }
  }
  run().catch((err: unknown) => { send({ type: 'error', message: String(err) }); process.exit(1) })
})
send({ type: 'started' })
