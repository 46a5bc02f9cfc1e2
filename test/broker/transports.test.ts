/**
 * MQTT over WebSocket at /mqtt on an HTTP server, and the mqtts (TLS) listener with a
 * certificate generated at test time, both with real mqtt.js clients.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { createAuthenticator } from '../../broker/authenticator.js'
import { PrintmqBroker } from '../../broker/broker.js'
import { attachMqttWebSocket } from '../../broker/websocket-transport.js'
import { agentMqttIdentity, createLicenseKey, hashLicenseKey, licenseMatches } from '../../shared/license.js'
import { createLogger } from '../../shared/logger.js'
import { agentTopic } from '../../shared/topics.js'
import { subackCodes } from '../helpers/mqtt.js'

const run = promisify(execFile)
const silent = createLogger({ level: 'silent' })
const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
const licenseKey = createLicenseKey(ref)
const identity = agentMqttIdentity(ref)
const login = { username: identity.username, password: licenseKey, clientId: identity.clientId, protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5000 }

async function startBroker (t: Test, tls: { cert: Buffer, key: Buffer } | null = null): Promise<{ broker: PrintmqBroker, tlsPort: number | null }> {
  const hash = hashLicenseKey(licenseKey)
  const broker = new PrintmqBroker({
    host: '127.0.0.1',
    port: null,
    logger: silent,
    maxPacketBytes: 4096,
    authenticate: createAuthenticator({ servicePassword: null, verifyLicense: async (key, r) => licenseMatches(key, hash) ? { ref: r, printers: [] } : null }),
    tls: tls === null ? null : { ...tls, port: 0 }
  })
  const { tlsPort } = await broker.start()
  t.teardown(() => broker.stop())
  return { broker, tlsPort }
}

async function startHttp (t: Test, broker: PrintmqBroker): Promise<number> {
  const server = createServer((_req, res) => { res.end('http') })
  const detach = attachMqttWebSocket(server, { handle: (stream, request) => { broker.handleConnection(stream, request) }, maxPayloadBytes: 4096, logger: silent })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    await detach()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  return (server.address() as AddressInfo).port
}

t.test('an agent connects over WebSocket at /mqtt and gets its topics', async (t) => {
  const { broker } = await startBroker(t)
  const port = await startHttp(t, broker)
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, login)
  t.teardown(() => client.endAsync(true))
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 1 }, '#': { qos: 1 } }), [1, 128])
  t.equal(broker.stats().connectedAgents, 1)
})

t.test('a WebSocket login with a wrong license is refused', async (t) => {
  const { broker } = await startBroker(t)
  const port = await startHttp(t, broker)
  await t.rejects(mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { ...login, password: createLicenseKey(ref) }), { code: 5 })
})

t.test('a WebSocket message over the payload limit closes the connection', async (t) => {
  const { broker } = await startBroker(t)
  const port = await startHttp(t, broker)
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt')
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const closed = new Promise<number>((resolve) => { ws.once('close', (code) => { resolve(code) }) })
  ws.send(Buffer.alloc(8192))
  t.equal(await closed, 1009, 'closed with 1009 (message too big)')
})

t.test('other upgrade paths and clients without the mqtt subprotocol are not served', async (t) => {
  const { broker } = await startBroker(t)
  const port = await startHttp(t, broker)
  const other = new WebSocket(`ws://127.0.0.1:${port}/other`, 'mqtt')
  await t.rejects(new Promise((resolve, reject) => { other.once('open', resolve); other.once('error', reject) }), /404/)
  const noProtocol = new WebSocket(`ws://127.0.0.1:${port}/mqtt`)
  const outcome = await new Promise<string>((resolve) => {
    noProtocol.once('open', () => { resolve('open') })
    noProtocol.once('error', (err) => { resolve(err.message) })
  })
  t.not(outcome, 'open', 'a WebSocket without the mqtt subprotocol is refused [MQTT-6.0.0-3]')
})

t.test('an agent connects over TLS with a certificate generated at test time', async (t) => {
  const dir = t.testdir()
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
  const cert = await readFile(join(dir, 'cert.pem'))
  const key = await readFile(join(dir, 'key.pem'))
  const { tlsPort } = await startBroker(t, { cert, key })
  t.ok(tlsPort !== null && tlsPort > 0)
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort as number}`, { ...login, ca: cert, rejectUnauthorized: true })
  t.teardown(() => client.endAsync(true))
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 1 } }), [1])
  await t.rejects(mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort as number}`, { ...login, rejectUnauthorized: true }), 'a client that does not trust the certificate fails')
})
