/**
 * Broker limits: packet size checked before buffering, connect timeout, keepalive
 * bounds, failed-login throttling, and the counters of stats().
 */
import { connect } from 'node:net'
import { PassThrough } from 'node:stream'
import t, { type Test } from 'tap'
import { createAuthenticator } from '../../broker/authenticator.js'
import { PrintmqBroker } from '../../broker/broker.js'
import { FixedHeaderScanner, guardPacketSize } from '../../broker/packet-size-guard.js'
import { createLogger } from '../../shared/logger.js'
import { capturingLogger } from '../helpers/log-capture.js'
import { connackCode } from '../helpers/mqtt.js'
import { encodeConnect, RawClient, rawConnack } from './helpers/raw-client.js'
import { startIsolationWorld } from './helpers/isolation-world.js'

const silent = createLogger({ level: 'silent' })

async function startBroker (t: Test, options: Partial<ConstructorParameters<typeof PrintmqBroker>[0]> = {}): Promise<{ broker: PrintmqBroker, port: number }> {
  const broker = new PrintmqBroker({
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    authenticate: createAuthenticator({ servicePassword: null, verifyLicense: async () => null }),
    ...options
  })
  const { port } = await broker.start()
  t.teardown(() => broker.stop())
  return { broker, port: port as number }
}

t.test('the fixed-header scanner finds the announced size across chunk boundaries', async (t) => {
  const scanner = new FixedHeaderScanner(1000)
  // A PINGREQ, then a PUBLISH announcing 2,000,000 bytes split inside its length bytes.
  t.equal(scanner.feed(Buffer.from([0xc0, 0x00, 0x30, 0x80])), null)
  const violation = scanner.feed(Buffer.from([0x89, 0x7a]))
  t.same(violation, { announcedBytes: 1 + 3 + 2_000_000, limitBytes: 1000 })
  const small = new FixedHeaderScanner(1000)
  t.equal(small.feed(Buffer.concat([Buffer.from([0x30, 0x0a]), Buffer.alloc(10), Buffer.from([0xc0, 0x00])])), null, 'bodies are skipped, the next header is read')
  t.same(new FixedHeaderScanner(1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])), { announcedBytes: null, limitBytes: 1000 }, 'a fifth length byte is malformed [MQTT-2.2.3]')
})

t.test('the guard checks each chunk before a reader sees it, in flowing mode too, and writes pass untouched', async (t) => {
  const stream = new PassThrough()
  const violations: unknown[] = []
  const guarded = guardPacketSize(stream, 100, (v) => { violations.push(v) })
  t.equal(guarded, stream, 'the connection itself is guarded, no wrapper stream')
  const seen: Buffer[] = []
  stream.on('data', (chunk: Buffer) => { seen.push(chunk) })
  stream.write(Buffer.from([0xc0, 0x00]))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, [Buffer.from([0xc0, 0x00])], 'a packet within the limit passes')
  stream.write(Buffer.from([0x30, 0xe8, 0x07])) // PUBLISH announcing 1,000 bytes
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen.length, 1, 'the oversized header never reached the reader')
  t.same(violations, [{ announcedBytes: 1 + 2 + 1000, limitBytes: 100 }])
  t.ok(stream.destroyed, 'the connection is destroyed')
})

t.test('a client announcing a packet over the limit is disconnected before the body is read', async (t) => {
  const { logger, lines } = capturingLogger('info')
  const { broker, port } = await startBroker(t, { maxPacketBytes: 64 * 1024, logger })
  const client = await RawClient.open(port)
  // CONNECT announcing 1 MiB: the header alone is enough.
  client.send(Buffer.from([0x10, 0x80, 0x80, 0x40]))
  await client.closed
  t.equal(client.received.length, 0, 'no CONNACK')
  t.equal(broker.stats().oversizedPackets, 1)
  t.ok(lines.some((l) => l.msg === 'connection closed: packet larger than the limit' && l.announcedBytes === 1 + 3 + 1024 * 1024), 'the log says why')
})

t.test('50 clients sending more than the limit at once do not grow memory by more than 64 MiB', async (t) => {
  const limit = 1024 * 1024
  const { broker, port } = await startBroker(t, { maxPacketBytes: limit })
  global.gc?.()
  const before = process.memoryUsage().rss
  const header = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]) // PUBLISH announcing 256 MiB
  const chunk = Buffer.alloc(4 * 1024 * 1024, 0x61)
  await Promise.all(Array.from({ length: 50 }, async () => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    await new Promise<void>((resolve) => { socket.once('connect', resolve) })
    socket.write(encodeConnect({ clientId: 'x', clean: true }))
    socket.write(header)
    socket.write(chunk)
    await new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
  }))
  const grown = process.memoryUsage().rss - before
  t.comment(`rss grew by ${(grown / 1024 / 1024).toFixed(1)} MiB`)
  t.ok(grown < 64 * 1024 * 1024, 'rss grew by less than 64 MiB')
  t.equal(broker.stats().oversizedPackets, 50)
})

t.test('a socket that never sends CONNECT is closed after the connect timeout', async (t) => {
  const { port } = await startBroker(t, { connectTimeoutMs: 200 })
  const client = await RawClient.open(port)
  await client.closed
  t.equal(client.received.length, 0)
})

t.test('keepalive 0 and keepalives above the limit are refused', async (t) => {
  const world = await startIsolationWorld(t)
  const login = world.agentLogin('sameBranch')
  t.not(await connackCode(world.url, { ...login, keepalive: 0 }), 0, 'keepalive 0 (never times out) is refused')
  t.not(await connackCode(world.url, { ...login, keepalive: 601 }), 0, 'above the default limit of 600 s')
  t.equal(await connackCode(world.url, { ...login, keepalive: 600 }), 0, 'at the limit')
})

t.test('failed logins are throttled per address and per login name, and logged once', async (t) => {
  const { logger, lines } = capturingLogger('info')
  const world = await startIsolationWorld(t, { logger, throttle: { maxFailures: 3, windowMs: 60_000 } })
  const victim = world.agentLogin('sameBranch')
  // The real agent logs in once from this address: it is trusted for its name from now on.
  t.equal(await connackCode(world.url, victim), 0)
  const wrong = { ...victim, password: world.agents.otherBranch.licenseKey }
  for (let i = 0; i < 3; i++) t.equal(await connackCode(world.url, wrong), 5)
  t.ok(lines.some((l) => l.msg === 'login throttle engaged for this login name' && l.username === victim.username), 'per-name throttle logged')
  t.ok(lines.some((l) => l.msg === 'login throttle engaged for this address'), 'per-address throttle logged')
  const before = world.broker.stats()
  t.equal(await connackCode(world.url, world.agentLogin('otherTenant')), 5, 'this address is throttled now, even for good credentials')
  const after = world.broker.stats()
  t.equal(after.throttledLogins, before.throttledLogins + 1, 'the throttle has a counter')
  t.ok(lines.some((l) => l.msg === 'connection refused: too many failed logins' && l.throttle === 'address'))
})

t.test('the per-name throttle does not lock out the agent from the address it logged in from', async (t) => {
  const { LoginThrottle } = await import('../../broker/login-throttle.js')
  const throttle = new LoginThrottle({ maxFailures: 2, windowMs: 1000, now: () => 0 })
  throttle.succeed('10.0.0.1', 'agent.acme.b1.a1')
  throttle.fail('10.6.6.6', 'agent.acme.b1.a1')
  throttle.fail('10.6.6.7', 'agent.acme.b1.a1')
  t.equal(throttle.check('10.0.0.1', 'agent.acme.b1.a1'), null, 'the agent own address still gets through')
  t.equal(throttle.check('10.9.9.9', 'agent.acme.b1.a1'), 'name', 'other addresses are held back for that name')
  t.equal(throttle.check('10.9.9.9', 'agent.globex.b1.a1'), null, 'another tenant is not affected')
  t.equal(throttle.check('10.6.6.6', 'agent.globex.b1.a1'), null, 'one failure from an address is below its limit')
})

t.test('stats counts clients, agents, messages and failed logins', async (t) => {
  const world = await startIsolationWorld(t)
  const start = world.broker.stats()
  t.equal(start.connectedAgents, 0)
  t.equal(start.connectedClients, 1, 'the watcher')
  t.ok(start.messagesIn > 0, 'the retained setup messages came in')
  t.ok(await world.canaryReceivesJob())
  const after = world.broker.stats()
  t.ok(after.messagesIn > start.messagesIn)
  t.ok(after.messagesOut > start.messagesOut)
  const raw = await RawClient.open(world.port)
  t.equal(await rawConnack(raw, { clientId: 'x', clean: true, username: 'technician', password: 'nope' }), 5)
  raw.destroy()
  t.equal(world.broker.stats().authFailures, after.authFailures + 1)
})
