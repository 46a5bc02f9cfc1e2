/**
 * Two embedded brokers joined through Redis (broker/cluster.ts) behave as one broker:
 * retained messages, persistent sessions and their QoS 1 queues are shared; a job result
 * reaches only the server client of the broker the agent published it to; another
 * prefix on the same Redis is another cluster. Needs PRINTMQ_TEST_REDIS_URL.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createAuthenticator, SERVICE_USERNAME } from '../../broker/authenticator.js'
import { PrintmqBroker } from '../../broker/broker.js'
import { createClusterBackends } from '../../broker/cluster.js'
import { newId, type AgentRef } from '../../shared/ids.js'
import { agentMqttIdentity, createLicenseKey, parseLicenseKey } from '../../shared/license.js'
import { createLogger } from '../../shared/logger.js'
import { encodeMessage } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { collectMessages, connectClient, waitForClose } from '../helpers/mqtt.js'

const REDIS_URL = process.env.PRINTMQ_TEST_REDIS_URL ?? null
const SKIP = REDIS_URL === null ? 'PRINTMQ_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)' : false
const SERVICE_PASSWORD = 'cluster-test-service-password'

/** Delete every key of a test prefix (never FLUSHALL: the Redis is shared). */
async function dropPrefix (prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL as string)
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 })) {
      if ((keys as string[]).length > 0) await redis.del(...(keys as string[]))
    }
  } finally { redis.disconnect() }
}

/** A broker of cluster `prefix` on a free port; stopped at teardown. */
async function startBroker (t: Test, prefix: string, revoked: Set<string> = new Set()): Promise<{ broker: PrintmqBroker, url: string }> {
  const broker = new PrintmqBroker({
    host: '127.0.0.1',
    port: 0,
    logger: createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' }),
    authenticate: createAuthenticator({
      servicePassword: SERVICE_PASSWORD,
      verifyLicense: async (key, ref) => revoked.has(key) || parseLicenseKey(key) === null ? null : { ref, printers: ['p1'] }
    }),
    cluster: await createClusterBackends({ redisUrl: REDIS_URL as string, prefix })
  })
  const { port } = await broker.start()
  t.teardown(async () => { await broker.stop() })
  return { broker, url: `mqtt://127.0.0.1:${port as number}` }
}

function agentLogin (ref: AgentRef, clean = false): { clientId: string, username: string, password: string, clean: boolean } {
  const identity = agentMqttIdentity(ref)
  return { clientId: identity.clientId, username: identity.username, password: createLicenseKey(ref), clean }
}

function serviceLogin (name: string): { clientId: string, username: string, password: string, clean: boolean } {
  return { clientId: `printmq.test.${name}`, username: SERVICE_USERNAME, password: SERVICE_PASSWORD, clean: true }
}

async function within<T> (ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: not within ${ms} ms`)) }, ms) })
  try { return await Promise.race([work, timeout]) } finally { clearTimeout(timer) }
}

async function until (what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(20)
  }
}

t.test('two brokers on one Redis prefix are one broker', { skip: SKIP }, async (t) => {
  const prefix = `printmq-test-${randomBytes(5).toString('hex')}`
  t.teardown(async () => { await dropPrefix(prefix) })
  const a = await startBroker(t, prefix)
  const b = await startBroker(t, prefix)
  const ref: AgentRef = { tenant: 'acme', branch: 'b1', agent: `pi-${randomBytes(3).toString('hex')}` }

  await t.test('a retained message published on A is delivered by B', async (t) => {
    const service = await connectClient(t, a.url, serviceLogin('retain-a'))
    await service.publishAsync(agentTopic(ref, 'config'), Buffer.from('{"retained":1}'), { qos: 1, retain: true })
    const reader = await connectClient(t, b.url, serviceLogin('retain-b'))
    const seen = collectMessages(reader)
    await reader.subscribeAsync(agentTopic(ref, 'config'), { qos: 1 })
    await until('retained config on B', () => seen.some((m) => m.retain && m.payload.toString() === '{"retained":1}'))
    t.pass('retained message shared')
  })

  await t.test('a job queued for an agent that left A is delivered when it logs in at B', async (t) => {
    const first = await connectClient(t, a.url, agentLogin(ref))
    // Two topics in one SUBSCRIBE, as an agent sends them (once hung with Redis persistence).
    const granted = await within(5000, 'SUBACK', first.subscribeAsync([agentTopic(ref, 'jobs'), agentTopic(ref, 'config')], { qos: 1 }))
    t.same(granted.map((g) => g.qos), [1, 1], 'both granted')
    await first.endAsync()
    const service = await connectClient(t, b.url, serviceLogin('jobs-b'))
    await service.publishAsync(agentTopic(ref, 'jobs'), Buffer.from('queued-job'), { qos: 1 })
    const second = await connectClient(t, b.url, agentLogin(ref))
    const seen = collectMessages(second)
    await until('queued job at B', () => seen.some((m) => m.payload.toString() === 'queued-job'))
    t.pass('persistent session and its queue shared')
  })

  await t.test('an agent live on A gets what is published on B at once', async (t) => {
    const agent = await connectClient(t, a.url, agentLogin(ref))
    const seen = collectMessages(agent)
    await agent.subscribeAsync(agentTopic(ref, 'jobs'), { qos: 1 })
    const service = await connectClient(t, b.url, serviceLogin('live-b'))
    await service.publishAsync(agentTopic(ref, 'jobs'), Buffer.from('live-job'), { qos: 1 })
    await until('job at A', () => seen.some((m) => m.payload.toString() === 'live-job'))
    await sleep(300)
    t.equal(seen.filter((m) => m.payload.toString() === 'live-job').length, 1, 'delivered once')
  })

  await t.test('a result goes to the server client of the broker it was published to, health to all', async (t) => {
    const serverA = await connectClient(t, a.url, serviceLogin('server-a'))
    const serverB = await connectClient(t, b.url, serviceLogin('server-b'))
    const seenA = collectMessages(serverA)
    const seenB = collectMessages(serverB)
    for (const server of [serverA, serverB]) await server.subscribeAsync({ 'printmq/v1/+/+/agents/+/results': { qos: 1 }, 'printmq/v1/+/+/agents/+/health': { qos: 1 } })
    const agent = await connectClient(t, a.url, agentLogin(ref, true))
    const jobId = newId()
    await agent.publishAsync(agentTopic(ref, 'results'), encodeMessage('job-result', 'c1', { jobId, printerId: 'p1', state: 'printed', code: 200 }), { qos: 1 })
    await agent.publishAsync(agentTopic(ref, 'health'), encodeMessage('agent-health', 'c1', { sessionId: 's-live', online: true }), { qos: 1, retain: true })
    const isResult = (m: { payload: Buffer }): boolean => m.payload.toString().includes(jobId)
    const isHealth = (m: { payload: Buffer }): boolean => m.payload.toString().includes('s-live')
    await until('health at both', () => seenA.some(isHealth) && seenB.some(isHealth))
    await until('result at A', () => seenA.some(isResult))
    await sleep(300)
    t.equal(seenA.filter(isResult).length, 1, 'A (the agent\'s broker) gets the result once')
    t.equal(seenB.filter(isResult).length, 0, 'B does not get it')
  })

  await t.test('disconnectAgent on A does not reach an agent on B by itself; on B it does', async (t) => {
    const agent = await connectClient(t, b.url, agentLogin(ref))
    t.equal(await a.broker.disconnectAgent(ref), false, 'A has no connection of it')
    t.equal(b.broker.hasAgent(ref), true, 'B has it')
    t.equal(await b.broker.disconnectAgent(ref), true)
    await waitForClose(agent, 2000)
  })

  await t.test('a login with the same client id on B takes the session over from A', async (t) => {
    const first = await connectClient(t, a.url, agentLogin(ref))
    await connectClient(t, b.url, agentLogin(ref))
    await waitForClose(first, 3000)
    t.pass('the older connection was closed')
  })
})

t.test('another prefix on the same Redis is another cluster', { skip: SKIP }, async (t) => {
  const prefixes = [`printmq-test-${randomBytes(5).toString('hex')}`, `printmq-test-${randomBytes(5).toString('hex')}`]
  t.teardown(async () => { for (const prefix of prefixes) await dropPrefix(prefix) })
  const a = await startBroker(t, prefixes[0] as string)
  const b = await startBroker(t, prefixes[1] as string)
  const ref: AgentRef = { tenant: 'acme', branch: 'b1', agent: 'same-id' }
  const reader = await connectClient(t, b.url, serviceLogin('other-b'))
  const seen = collectMessages(reader)
  await reader.subscribeAsync('printmq/v1/#', { qos: 1 })
  const service = await connectClient(t, a.url, serviceLogin('other-a'))
  await service.publishAsync(agentTopic(ref, 'config'), Buffer.from('x'), { qos: 1, retain: true })
  const onA = await connectClient(t, a.url, agentLogin(ref))
  await connectClient(t, b.url, agentLogin(ref))
  await sleep(500)
  t.same(seen, [], 'nothing crosses, retained included')
  t.equal(onA.connected, true, 'the same client id in another cluster does not take the session over')
})
