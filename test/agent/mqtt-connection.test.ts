/**
 * The agent's connection with several broker URLs (the instances of a cluster): it
 * starts with the first and moves to the next when the one it uses goes away.
 */
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { Aedes, type Client } from 'aedes'
import t, { type Test } from 'tap'
import { MqttConnection } from '../../agent/mqtt-connection.js'
import { createLogger } from '../../shared/logger.js'

interface Broker { readonly url: string, readonly clients: string[], stop (): Promise<void> }

/** An Aedes broker on a free port that records who connected; stop() cuts every client. */
async function startBroker (t: Test): Promise<Broker> {
  const aedes = await Aedes.createBroker()
  const clients: string[] = []
  aedes.on('client', (client: Client) => { clients.push(client.id) })
  const server: Server = createServer(aedes.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    server.close()
    await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
  }
  t.teardown(stop)
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, clients, stop }
}

t.test('an agent with two broker urls moves to the second when the first goes away', async (t) => {
  const a = await startBroker(t)
  const b = await startBroker(t)
  const connection = new MqttConnection({
    url: 'mqtt://unused.invalid:1',
    urls: [a.url, b.url],
    identity: { clientId: 'agent.acme.b1.pi', username: 'agent.acme.b1.pi' },
    password: 'secret',
    logger: createLogger({ level: 'silent' }),
    will: () => ({ topic: 'printmq/v1/acme/b1/agents/pi/health', payload: Buffer.from('{}') }),
    onMessage: async () => {},
    backoff: { initialMs: 50, maxMs: 200 }
  })
  t.teardown(async () => { await connection.stop() })
  const connected = (): Promise<unknown> => once(connection, 'connect')
  const first = connected()
  connection.start()
  await first
  t.same([a.clients.length, b.clients.length], [1, 0], 'connected to the first url')

  const second = connected()
  await a.stop()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([second, new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('no reconnect to the second url within 10 s')) }, 10_000) })])
  clearTimeout(timer)
  t.equal(b.clients.length, 1, 'reconnected to the second url')
  t.equal(connection.reconnects, 1)
})
