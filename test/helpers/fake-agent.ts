/**
 * An MQTT client that logs in with an agent's license, as a real agent would, to watch
 * its retained config and publish health and printer status in tests.
 */
import type { MqttClient } from 'mqtt'
import type { Test } from 'tap'
import type { AgentRef } from '../../shared/ids.js'
import { agentMqttIdentity, parseLicenseKey } from '../../shared/license.js'
import { decodeMessage, encodeMessage, type AgentConfigMessage, type MessageBody } from '../../shared/messages.js'
import { agentTopic, printerStatusTopic } from '../../shared/topics.js'
import { connectClient } from './mqtt.js'

/** A logged-in license. */
export interface FakeAgent {
  readonly ref: AgentRef
  readonly client: MqttClient
  /** Resolves with the next retained or live config that satisfies `accept`. */
  nextConfig (accept: (config: AgentConfigMessage) => boolean): Promise<AgentConfigMessage>
  publishHealth (body: MessageBody<'agent-health'>): Promise<void>
  publishStatus (printer: string, body: MessageBody<'printer-status'>): Promise<void>
}

/** Log in with `licenseKey` and subscribe to the agent's config. */
export async function connectFakeAgent (t: Test, mqttUrl: string, licenseKey: string): Promise<FakeAgent> {
  const ref = parseLicenseKey(licenseKey)
  if (ref === null) throw new Error('not a license key')
  const identity = agentMqttIdentity(ref)
  const client = await connectClient(t, mqttUrl, { clientId: identity.clientId, username: identity.username, password: licenseKey, clean: true })
  const configs: AgentConfigMessage[] = []
  const waiters: Array<{ accept: (c: AgentConfigMessage) => boolean, resolve: (c: AgentConfigMessage) => void }> = []
  client.on('message', (topic, payload) => {
    if (topic !== agentTopic(ref, 'config') || payload.length === 0) return
    const config = decodeMessage('agent-config', payload)
    configs.push(config)
    for (const waiter of [...waiters]) {
      if (waiter.accept(config)) { waiters.splice(waiters.indexOf(waiter), 1); waiter.resolve(config) }
    }
  })
  await client.subscribeAsync(agentTopic(ref, 'config'), { qos: 1 })
  return {
    ref,
    client,
    nextConfig: async (accept) => {
      const seen = configs.find(accept)
      if (seen !== undefined) { configs.splice(0, configs.indexOf(seen) + 1); return seen }
      return await new Promise((resolve) => { waiters.push({ accept, resolve }) })
    },
    publishHealth: async (body) => {
      await client.publishAsync(agentTopic(ref, 'health'), encodeMessage('agent-health', 'test-health', body), { qos: 1, retain: true })
    },
    publishStatus: async (printer, body) => {
      await client.publishAsync(printerStatusTopic({ tenant: ref.tenant, branch: ref.branch, printer }), encodeMessage('printer-status', 'test-status', body), { qos: 1, retain: true })
    }
  }
}
