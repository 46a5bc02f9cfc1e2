/**
 * Revoking or rotating an agent's license (issue 3): the live session is closed before
 * the API answers, its persistent session is cleared, reconnects with the old key get
 * CONNACK 5 "not authorized", and nothing queued for it is delivered afterwards.
 */
import mqtt, { type MqttClient } from 'mqtt'
import t from 'tap'
import { agentMqttIdentity } from '../../shared/license.js'
import { newId } from '../../shared/ids.js'
import { agentTopic } from '../../shared/topics.js'
import { connackCode } from '../helpers/mqtt.js'
import { provision, startTestServer } from '../helpers/server.js'
import { startIsolationWorld } from './helpers/isolation-world.js'

const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
const identity = agentMqttIdentity(ref)

async function connectAgent (url: string, licenseKey: string): Promise<{ client: MqttClient, sessionPresent: boolean }> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, clean: false, username: identity.username, clientId: identity.clientId, password: licenseKey })
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return { client, sessionPresent: connack.sessionPresent }
}

t.test('through the API', async (t) => {
  const server = await startTestServer(t)
  const { licenseKey, adminToken } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
  const path = '/v1/branches/b1/agents/a1/license'

  t.test('revoking closes the live session before answering and refuses reconnects', async (t) => {
    const { client } = await connectAgent(server.mqttUrl, licenseKey)
    await client.subscribeAsync(agentTopic(ref, 'jobs'), { qos: 1 })
    let closed = false
    client.once('close', () => { closed = true })
    const response = await server.request('DELETE', path, { token: adminToken })
    t.equal(response.status, 200)
    t.equal(response.body.revoked, true)
    t.ok(closed || await new Promise<boolean>((resolve) => { client.once('close', () => { resolve(true) }) }), 'the live session is closed')
    t.equal(await connackCode(server.mqttUrl, { clientId: identity.clientId, username: identity.username, password: licenseKey, clean: false }), 5, 'CONNACK 5 not authorized')
    await client.endAsync(true)
  })

  t.test('rotating returns a new key once; the old key stops working and the old session is gone', async (t) => {
    const response = await server.request('POST', path, { token: adminToken })
    t.equal(response.status, 200)
    const newKey = response.body.licenseKey as string
    t.not(newKey, licenseKey)
    t.equal(response.body.revoked, false, 'a rotated license is valid again')
    t.same(response.body.mqtt.username, identity.username)
    t.equal(await connackCode(server.mqttUrl, { clientId: identity.clientId, username: identity.username, password: licenseKey, clean: false }), 5, 'the old key is refused')
    const { client, sessionPresent } = await connectAgent(server.mqttUrl, newKey)
    t.equal(sessionPresent, false, 'the persistent session of the revoked license was cleared')
    const closedByRotation = new Promise<void>((resolve) => { client.once('close', () => { resolve() }) })
    const again = await server.request('POST', path, { token: adminToken })
    t.equal(again.status, 200)
    await closedByRotation
    t.equal(await connackCode(server.mqttUrl, { clientId: identity.clientId, username: identity.username, password: newKey, clean: true }), 5, 'the rotated-away key is refused')
    t.equal(await connackCode(server.mqttUrl, { clientId: identity.clientId, username: identity.username, password: again.body.licenseKey, clean: true }), 0)
    await client.endAsync(true)
  })

  t.test('only admins of the tenant may rotate or revoke', async (t) => {
    t.equal((await server.request('POST', path, { token: server.token('acme', 'operator') })).status, 403)
    t.equal((await server.request('DELETE', path, { token: server.token('acme', 'technician') })).status, 403)
    t.equal((await server.request('POST', path, { token: server.token('globex', 'admin') })).status, 404, 'another tenant sees no such agent')
    t.equal((await server.request('DELETE', path, { token: server.token('acme', 'admin', { branches: ['b2'] }) })).status, 404, 'outside the token branches')
    t.equal((await server.request('DELETE', '/v1/branches/b1/agents/nobody/license', { token: adminToken })).body.code, 'PRINTMQ_API_AGENT_NOT_FOUND')
    t.equal((await server.request('POST', path)).status, 401)
  })
})

t.test('disconnectAgent drops the messages queued in the persistent session', async (t) => {
  const world = await startIsolationWorld(t)
  /** Subscribe with a persistent session, go offline, get a job queued; returns what a reconnect receives. */
  async function queuedThenReconnect (name: 'sameBranch' | 'otherBranch', clear: boolean): Promise<{ sessionPresent: boolean, gotJob: boolean }> {
    const agent = world.agents[name]
    const login = { protocolVersion: 4 as const, reconnectPeriod: 0, clean: false, ...world.agentLogin(name) }
    const jobs = agentTopic(agent.ref, 'jobs')
    const first = await mqtt.connectAsync(world.url, login)
    await first.subscribeAsync(jobs, { qos: 1 })
    await first.endAsync()
    const marker = newId()
    await world.publishAsService(jobs, Buffer.from(JSON.stringify({ marker })))
    if (clear) t.equal(await world.broker.disconnectAgent(agent.ref), false, 'no live connection to close')
    const received: string[] = []
    const client = mqtt.connect(world.url, login)
    client.on('message', (_topic, payload) => { received.push(payload.toString()) })
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { client.once('connect', resolve); client.once('error', reject) })
    // Queued messages go out right after CONNACK, before the next packet is handled: a round trip is a barrier.
    await client.subscribeAsync(jobs, { qos: 1 })
    await client.endAsync(true)
    return { sessionPresent: connack.sessionPresent, gotJob: received.some((p) => p.includes(marker)) }
  }
  t.same(await queuedThenReconnect('otherBranch', false), { sessionPresent: true, gotJob: true }, 'without it, the queued job is delivered (control)')
  t.same(await queuedThenReconnect('sameBranch', true), { sessionPresent: false, gotJob: false }, 'after it, the session and its queued job are gone')
})
