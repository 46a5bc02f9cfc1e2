/**
 * A broker on 127.0.0.1:0 with a small world of tenants, for the isolation suite: real
 * authenticator, ACL and technician JWT verifier; licenses kept in memory (as their
 * SHA-256, like the database). A service-identity watcher records every message the
 * broker routes, and a canary agent proves after each hostile case that a legitimate
 * agent still connects and receives its jobs.
 */
import { randomBytes } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import type { Test } from 'tap'
import { createTechnicianVerifier } from '../../../api/auth/technician-verifier.js'
import { mintToken } from '../../../api/auth/tokens.js'
import { createAuthenticator, SERVICE_USERNAME } from '../../../broker/authenticator.js'
import { PrintmqBroker } from '../../../broker/broker.js'
import type { AgentRef } from '../../../shared/ids.js'
import { newId } from '../../../shared/ids.js'
import { agentMqttIdentity, createLicenseKey, hashLicenseKey, licenseMatches } from '../../../shared/license.js'
import { createLogger, type Logger } from '../../../shared/logger.js'
import { encodeMessage } from '../../../shared/messages.js'
import { agentTopic, printerStatusTopic } from '../../../shared/topics.js'

/** An agent of the world and the printers it drives. */
export interface WorldAgent {
  readonly ref: AgentRef
  readonly printers: readonly string[]
  licenseKey: string
}

/** The hostile agent, its neighbours and the canary. */
export const AGENTS = {
  hostile: { tenant: 'acme', branch: 'b1', agent: 'a1', printers: ['p1'] },
  sameBranch: { tenant: 'acme', branch: 'b1', agent: 'a2', printers: ['p2'] },
  otherBranch: { tenant: 'acme', branch: 'b2', agent: 'a3', printers: ['p3'] },
  otherTenant: { tenant: 'globex', branch: 'b1', agent: 'a1', printers: ['p1'] },
  canary: { tenant: 'acme', branch: 'b1', agent: 'canary', printers: ['pc'] }
} as const

/** A running isolation world. */
export interface IsolationWorld {
  readonly broker: PrintmqBroker
  readonly port: number
  readonly url: string
  readonly secret: string
  readonly agents: Record<keyof typeof AGENTS, WorldAgent>
  /** Messages the service watcher saw (it subscribes to everything, `$SYS` included). */
  readonly seen: Array<{ topic: string, payload: Buffer }>
  /** A technician token. */
  technicianToken (tenant: string, branches?: string[], ttlSeconds?: number): string
  /** MQTT login of an agent. */
  agentLogin (name: keyof typeof AGENTS): { username: string, password: string, clientId: string }
  /** Connect the canary agent, publish it a job as the server would, and resolve when it arrives. */
  canaryReceivesJob (): Promise<boolean>
  /** Wait until the watcher has seen everything routed before this call. */
  settle (): Promise<void>
  /** Publish as printmq's server would (QoS 1). */
  publishAsService (topic: string, payload: Buffer): Promise<void>
  /** Revoke an agent's license in the in-memory store. */
  revoke (name: keyof typeof AGENTS): void
}

/** Start the world; everything stops at `t`'s teardown. */
export async function startIsolationWorld (t: Test, options: { logger?: Logger, throttle?: { maxFailures: number, windowMs: number } } = {}): Promise<IsolationWorld> {
  const secret = randomBytes(32).toString('base64url')
  const servicePassword = randomBytes(32).toString('base64url')
  const agents = Object.fromEntries(Object.entries(AGENTS).map(([name, a]) => {
    const ref = { tenant: a.tenant, branch: a.branch, agent: a.agent }
    return [name, { ref, printers: a.printers, licenseKey: createLicenseKey(ref) }]
  })) as unknown as Record<keyof typeof AGENTS, WorldAgent>
  const hashes = new Map<string, string>()
  const keyOf = (ref: AgentRef): string => agentMqttIdentity(ref).clientId
  for (const agent of Object.values(agents)) hashes.set(keyOf(agent.ref), hashLicenseKey(agent.licenseKey))

  const authenticate = createAuthenticator({
    servicePassword,
    verifyLicense: async (key, ref) => {
      const hash = hashes.get(keyOf(ref))
      if (hash === undefined || !licenseMatches(key, hash)) return null
      const agent = Object.values(agents).find((a) => keyOf(a.ref) === keyOf(ref))
      return agent === undefined ? null : { ref, printers: agent.printers }
    },
    verifyTechnicianToken: createTechnicianVerifier({ algorithm: 'HS256', secret })
  })
  const broker = new PrintmqBroker({
    host: '127.0.0.1',
    port: 0,
    logger: options.logger ?? createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' }),
    authenticate,
    // Hundreds of refused logins come from 127.0.0.1 here: the throttle has its own test.
    loginThrottle: options.throttle ?? { maxFailures: 1_000_000, windowMs: 60_000 }
  })
  const { port } = await broker.start()
  t.teardown(() => broker.stop())
  const url = `mqtt://127.0.0.1:${port as number}`

  const service = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, username: SERVICE_USERNAME, password: servicePassword, clientId: 'printmq.test-watcher', clean: true })
  t.teardown(async () => { await service.endAsync(true) })
  const seen: Array<{ topic: string, payload: Buffer }> = []
  service.on('message', (topic, payload) => { seen.push({ topic, payload }) })
  await service.subscribeAsync({ '#': { qos: 1 }, '$SYS/#': { qos: 1 } })

  // Retained messages on every victim topic, so a leaking subscription would receive them.
  for (const agent of Object.values(agents)) {
    const health = encodeMessage('agent-health', 'setup', { sessionId: 'setup', online: true })
    await service.publishAsync(agentTopic(agent.ref, 'health'), health, { qos: 1, retain: true })
    await service.publishAsync(agentTopic(agent.ref, 'config'), encodeMessage('agent-config', 'setup', { printers: [] }), { qos: 1, retain: true })
    for (const printer of agent.printers) {
      const status = encodeMessage('printer-status', 'setup', { printerId: printer, sessionId: 'setup', state: 'ready' })
      await service.publishAsync(printerStatusTopic({ ...agent.ref, printer }), status, { qos: 1, retain: true })
    }
  }

  const agentLogin = (name: keyof typeof AGENTS): { username: string, password: string, clientId: string } => {
    const agent = agents[name]
    return { ...agentMqttIdentity(agent.ref), password: agent.licenseKey }
  }

  // The canary keeps a persistent session subscribed to its jobs.
  const canaryTopic = agentTopic(agents.canary.ref, 'jobs')
  const first = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, clean: false, ...agentLogin('canary') })
  await first.subscribeAsync(canaryTopic, { qos: 1 })
  await first.endAsync()

  let marker = 0
  return {
    broker,
    port: port as number,
    url,
    secret,
    agents,
    seen,
    technicianToken: (tenant, branches, ttlSeconds = 3600) => mintToken(secret, { tenant, role: 'technician', subject: 'tech', ttlSeconds, ...(branches !== undefined ? { branches } : {}) }),
    agentLogin,
    canaryReceivesJob: async () => {
      let canary: MqttClient
      try {
        canary = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, clean: false, ...agentLogin('canary') })
      } catch {
        return false
      }
      try {
        const jobId = newId()
        const correlationId = `canary-${++marker}`
        const arrived = new Promise<boolean>((resolve) => {
          canary.on('message', (topic, payload) => {
            if (topic === canaryTopic && payload.includes(correlationId)) resolve(true)
          })
          canary.once('close', () => { resolve(false) })
        })
        await service.publishAsync(canaryTopic, Buffer.from(JSON.stringify({ v: 1, kind: 'print-job', id: newId(), correlationId, jobId })), { qos: 1 })
        return await arrived
      } finally {
        await canary.endAsync()
      }
    },
    settle: async () => {
      const id = `printmq/v1/settle/${++marker}`
      const arrived = new Promise<void>((resolve) => {
        const onMessage = (topic: string): void => { if (topic === id) { service.off('message', onMessage); resolve() } }
        service.on('message', onMessage)
      })
      await service.publishAsync(id, Buffer.from('settle'), { qos: 1 })
      await arrived
    },
    publishAsService: async (topic, payload) => { await service.publishAsync(topic, payload, { qos: 1 }) },
    revoke: (name) => { hashes.delete(keyOf(agents[name].ref)) }
  }
}
