/**
 * A load-generator process for the broker benchmarks, driven over IPC by the scenario:
 * `subscribers` (connect, subscribe to their own jobs topic at QoS 1, count and time
 * deliveries), `publishers` (publish 256-byte QoS 1 messages to random subscribers'
 * topics with a bounded in-flight window) or `connectors` (connect and stay connected,
 * reconnecting after a broker restart). Reports its own CPU so the scenario can tell
 * when the load generator, not the broker, was the limit.
 */
import mqtt, { type MqttClient } from 'mqtt'

interface Login { readonly username: string, readonly password: string, readonly clientId: string, readonly topic: string }

type Command =
  | { type: 'subscribers', url: string, logins: Login[] }
  | { type: 'publishers', url: string, login: Omit<Login, 'topic'>, topics: string[], connections: number, window: number, durationMs: number, payloadBytes: number }
  | { type: 'connectors', url: string, logins: Login[] }
  | { type: 'report' }
  | { type: 'exit' }

const clients: MqttClient[] = []
let received = 0
const latencies: number[] = []
let connectedAt: number[] = []
let online = 0

function now (): number { return performance.timeOrigin + performance.now() }

function send (message: unknown): void { process.send?.(message) }

async function connect (url: string, login: Omit<Login, 'topic'>, reconnect: boolean): Promise<MqttClient> {
  return await mqtt.connectAsync(url, {
    username: login.username,
    password: login.password,
    clientId: login.clientId,
    clean: true,
    protocolVersion: 4,
    keepalive: 60,
    connectTimeout: 60_000,
    reconnectPeriod: reconnect ? 500 + Math.floor(Math.random() * 500) : 0
  })
}

async function inBatches<T> (items: readonly T[], size: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map((item, j) => work(item, i + j)))
  }
}

async function subscribers (url: string, logins: Login[]): Promise<void> {
  await inBatches(logins, 50, async (login) => {
    const client = await connect(url, login, false)
    client.on('message', (_topic, payload) => {
      received++
      if (payload.length >= 8) latencies.push(now() - payload.readDoubleLE(0))
    })
    await client.subscribeAsync(login.topic, { qos: 1 })
    clients.push(client)
  })
}

async function publishers (command: Extract<Command, { type: 'publishers' }>): Promise<{ published: number }> {
  let published = 0
  const deadline = Date.now() + command.durationMs
  const conns = await Promise.all(Array.from({ length: command.connections }, (_, i) =>
    connect(command.url, { ...command.login, clientId: `${command.login.clientId}-${process.pid}-${i}` }, false)))
  clients.push(...conns)
  await Promise.all(conns.map(async (client) => {
    let inFlight = 0
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (inFlight < command.window && Date.now() < deadline) {
          const payload = Buffer.alloc(command.payloadBytes, 0x41)
          payload.writeDoubleLE(now(), 0)
          const topic = command.topics[Math.floor(Math.random() * command.topics.length)] as string
          inFlight++
          client.publish(topic, payload, { qos: 1 }, () => {
            inFlight--
            published++
            if (Date.now() < deadline) pump()
            else if (inFlight === 0) resolve()
          })
        }
        if (Date.now() >= deadline && inFlight === 0) resolve()
      }
      pump()
    })
  }))
  return { published }
}

async function connectors (url: string, logins: Login[]): Promise<void> {
  connectedAt = []
  await inBatches(logins, 200, async (login) => {
    const client = await connect(url, login, true)
    online++
    connectedAt.push(Date.now())
    client.on('connect', () => { online++; connectedAt.push(Date.now()) })
    client.on('offline', () => { online-- })
    clients.push(client)
  })
}

process.on('message', (command: Command) => {
  const run = async (): Promise<void> => {
    switch (command.type) {
      case 'subscribers': await subscribers(command.url, command.logins); send({ type: 'ready' }); break
      case 'publishers': send({ type: 'published', ...(await publishers(command)) }); break
      case 'connectors': await connectors(command.url, command.logins); send({ type: 'ready' }); break
      case 'report': {
        const usage = process.cpuUsage()
        send({ type: 'report', received, latencies: latencies.splice(0), online, lastConnectAt: Math.max(0, ...connectedAt), cpuSeconds: (usage.user + usage.system) / 1e6, rss: process.memoryUsage().rss })
        received = 0
        connectedAt = []
        break
      }
      case 'exit':
        await Promise.all(clients.map((c) => c.endAsync(true)))
        process.exit(0)
    }
  }
  run().catch((err: unknown) => { send({ type: 'error', message: String(err) }); process.exit(1) })
})
send({ type: 'started' })
