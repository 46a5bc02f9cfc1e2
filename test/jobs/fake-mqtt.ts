/**
 * A stand-in for the server's MQTT client in dispatcher tests: records every publish,
 * acknowledges at once (like a broker's PUBACK) and can be "disconnected".
 */
import type { ServiceClient } from '../../api/mqtt/service-client.js'

/** A recorded publish. */
export interface Published {
  readonly topic: string
  readonly jobId: string
}

/** The fake and what it recorded. */
export interface FakeMqtt {
  readonly client: ServiceClient
  readonly published: Published[]
  connected: boolean
}

/** A connected fake. */
export function fakeMqtt (): FakeMqtt {
  const fake: FakeMqtt = {
    published: [],
    connected: true,
    client: undefined as unknown as ServiceClient
  }
  const client = {
    get connected () { return fake.connected },
    async publish (topic: string, payload: string | Buffer): Promise<void> {
      if (!fake.connected) throw new Error('not connected')
      fake.published.push({ topic, jobId: (JSON.parse(payload.toString()) as { jobId: string }).jobId })
    }
  }
  ;(fake as { client: ServiceClient }).client = client as unknown as ServiceClient
  return fake
}
