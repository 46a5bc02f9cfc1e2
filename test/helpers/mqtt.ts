/** mqtt.js clients for tests: connect once (no reconnect) and report the outcome. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Test } from 'tap'

/** Connect or fail with the broker's CONNACK refusal; closed at `t`'s teardown. */
export async function connectClient (t: Test, url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options })
  t.teardown(async () => { await client.endAsync(true) })
  return client
}

/** The CONNACK return code a connection attempt is refused with, or 0 when accepted. */
export async function connackCode (url: string, options: IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options })
    await client.endAsync(true)
    return 0
  } catch (err) {
    const code = (err as { code?: number }).code
    if (typeof code === 'number') return code
    throw err
  }
}

/** Resolves when `client` is closed by the broker, rejects after `ms`. */
export async function waitForClose (client: MqttClient, ms = 5000): Promise<void> {
  if (client.disconnected || !client.connected) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('client was not disconnected')) }, ms)
    client.once('close', () => { clearTimeout(timer); resolve() })
  })
}

/** Collects messages received on `client`. */
export function collectMessages (client: MqttClient): Array<{ topic: string, payload: Buffer, retain: boolean }> {
  const messages: Array<{ topic: string, payload: Buffer, retain: boolean }> = []
  client.on('message', (topic, payload, packet) => { messages.push({ topic, payload, retain: packet.retain }) })
  return messages
}

/** Subscribe and return the SUBACK return codes (128 = refused) instead of throwing on refusals. */
export async function subackCodes (client: MqttClient, subscriptions: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  return await new Promise((resolve, reject) => {
    client.subscribe(subscriptions, (err, granted) => {
      const packet = (err as { packet?: { granted?: number[] } } | null)?.packet
      if (packet?.granted !== undefined) { resolve(packet.granted); return }
      if (err !== null && err !== undefined) { reject(err); return }
      resolve((granted ?? []).map((g) => g.qos))
    })
  })
}
