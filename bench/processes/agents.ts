/**
 * Branch side of the end-to-end benchmark, in its own process: one VirtualPrinter and
 * one Agent per license given over IPC. Reports how many tickets were printed.
 *
 * `instant-agents` instead logs in with each license as a bare MQTT client that answers
 * every job at once with `accepted` and `printed` (no journal, no printer): the server's
 * own capacity, with the agents' work taken off the shared cores (`--instant-agents 1`).
 */
import mqtt from 'mqtt'
import { Agent } from '../../agent/agent.js'
import { RESULT_CODES } from '../../shared/job-states.js'
import { agentMqttIdentity, parseLicenseKey } from '../../shared/license.js'
import { createLogger } from '../../shared/logger.js'
import { decodeMessage, encodeMessage } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'

type Command =
  | { type: 'printers', count: number }
  | { type: 'agents', url: string, licenses: string[], stateDir: string }
  | { type: 'instant-agents', url: string, licenses: string[] }
  | { type: 'report' }
  | { type: 'exit' }

const logger = createLogger({ level: 'warn' })
const printers: VirtualPrinter[] = []
const agents: Agent[] = []
const instantClients: mqtt.MqttClient[] = []
let instantPrinted = 0

/** A bare MQTT client for `licenseKey` that answers each job `accepted` then `printed`. */
async function instantAgent (url: string, licenseKey: string): Promise<mqtt.MqttClient> {
  const ref = parseLicenseKey(licenseKey)
  if (ref === null) throw new Error('not a license key')
  const identity = agentMqttIdentity(ref)
  const client = await mqtt.connectAsync(url, { clientId: identity.clientId, username: identity.username, password: licenseKey, clean: false, protocolVersion: 4, reconnectPeriod: 0 })
  const results = agentTopic(ref, 'results')
  client.on('message', (_topic, payload) => {
    if (payload.includes('"kind":"job-cancel"')) return
    const job = decodeMessage('print-job', payload)
    const answer = (state: 'accepted' | 'printed', code: number): void => {
      client.publish(results, encodeMessage('job-result', job.correlationId, { jobId: job.jobId, printerId: job.printerId, state, code }), { qos: 1 })
    }
    answer('accepted', RESULT_CODES.ACCEPTED)
    answer('printed', RESULT_CODES.PRINTED)
    instantPrinted++
  })
  await client.subscribeAsync(agentTopic(ref, 'jobs'), { qos: 1 })
  return client
}

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
      case 'instant-agents':
        instantClients.push(...await Promise.all(command.licenses.map(async (licenseKey) => await instantAgent(command.url, licenseKey))))
        send({ type: 'agents' })
        break
      case 'report':
        send({ type: 'report', tickets: instantPrinted + printers.reduce((sum, p) => sum + p.tickets.length, 0), rss: process.memoryUsage().rss, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 })
        break
      case 'exit':
        await Promise.all(agents.map((a) => a.stop()))
        await Promise.all(instantClients.map(async (c) => { await c.endAsync() }))
        await Promise.all(printers.map((p) => p.stop()))
        process.exit(0)
    }
  }
  run().catch((err: unknown) => { send({ type: 'error', message: String(err) }); process.exit(1) })
})
send({ type: 'started' })
