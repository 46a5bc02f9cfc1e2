/**
 * The job lifecycle over HTTP and MQTT on PGlite and PostgreSQL: cancel, reprint, the
 * paginated list, and results that arrive twice or out of order. A test MQTT client logs
 * in with an agent's license and plays the agent.
 */
import type { MqttClient } from 'mqtt'
import t, { type Test } from 'tap'
import type { AgentRef } from '../../shared/ids.js'
import { agentMqttIdentity } from '../../shared/license.js'
import { encodeMessage } from '../../shared/messages.js'
import { agentTopic } from '../../shared/topics.js'
import { testDatabases } from '../helpers/databases.js'
import { connectClient } from '../helpers/mqtt.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

const NO_RATE_LIMITS = { PRINTMQ_RATE_LIMIT_TENANT: '1000000', PRINTMQ_RATE_LIMIT_BRANCH: '1000000', PRINTMQ_RATE_LIMIT_PRINTER: '1000000' }

/** An MQTT client with the agent's identity, subscribed to its jobs. */
async function fakeAgent (t: Test, server: TestServer, ref: AgentRef, licenseKey: string): Promise<{ client: MqttClient, nextJob: () => Promise<{ jobId: string, correlationId: string }> }> {
  const identity = agentMqttIdentity(ref)
  const client = await connectClient(t, server.mqttUrl, { username: identity.username, clientId: identity.clientId, password: licenseKey, clean: true })
  const queue: Array<{ jobId: string, correlationId: string }> = []
  const waiters: Array<(job: { jobId: string, correlationId: string }) => void> = []
  client.on('message', (topic, payload) => {
    if (topic !== agentTopic(ref, 'jobs')) return
    const job = JSON.parse(payload.toString()) as { jobId: string, correlationId: string }
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter(job)
    else queue.push(job)
  })
  await client.subscribeAsync(agentTopic(ref, 'jobs'), { qos: 1 })
  return {
    client,
    nextJob: async () => await new Promise((resolve) => {
      const queued = queue.shift()
      if (queued !== undefined) resolve(queued)
      else waiters.push(resolve)
    })
  }
}

async function report (client: MqttClient, ref: AgentRef, job: { jobId: string, correlationId: string }, state: 'accepted' | 'printed' | 'failed', code: number): Promise<void> {
  await client.publishAsync(agentTopic(ref, 'results'), encodeMessage('job-result', job.correlationId, { jobId: job.jobId, printerId: 'p1', state, code }), { qos: 1 })
}

/** Re-read a job until `done` holds (results travel asynchronously through the broker). */
async function until (server: TestServer, tenant: string, jobId: string, done: (job: any) => boolean): Promise<any> {
  for (;;) {
    const response = await server.request('GET', `/v1/print-jobs/${jobId}`, { token: server.token(tenant, 'operator') })
    if (done(response.body)) return response.body
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

for (const database of testDatabases()) {
  await t.test(`on ${database.name}`, async (t) => {
    const server = await startTestServer(t, { database: await database.create(t), env: NO_RATE_LIMITS })
    const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
    const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
    const operator = server.token('acme', 'operator')
    const submit = async (text: string, extra: Record<string, unknown> = {}): Promise<any> => {
      const response = await server.request('POST', '/v1/print-jobs', { token: operator, body: { branchId: 'b1', printerId: 'p1', content: { type: 'text', text }, ...extra } })
      if (response.status !== 202) throw new Error(`submit: ${response.status} ${JSON.stringify(response.body)}`)
      return response.body
    }

    await t.test('cancel stops a job no agent accepted, and answers again for a canceled job', async (t) => {
      const job = await submit('cancel me')
      const canceled = await server.request('POST', `/v1/print-jobs/${job.id as string}/cancel`, { token: operator })
      t.equal(canceled.status, 200)
      t.equal(canceled.body.state, 'canceled')
      const again = await server.request('POST', `/v1/print-jobs/${job.id as string}/cancel`, { token: operator })
      t.equal(again.status, 200)
      t.equal(again.body.state, 'canceled')
      const read = await server.request('GET', `/v1/print-jobs/${job.id as string}`, { token: operator })
      t.same(read.body.history.map((e: any) => e.state).filter((s: string) => s !== 'dispatched'), ['queued', 'canceled'])
      const unknown = await server.request('POST', '/v1/print-jobs/00000000-0000-4000-8000-000000000000/cancel', { token: operator })
      t.equal(unknown.status, 404)
      const foreign = await server.request('POST', `/v1/print-jobs/${job.id as string}/cancel`, { token: server.token('evil', 'operator') })
      t.equal(foreign.status, 404, 'another tenant cannot cancel it')
    })

    const agent = await fakeAgent(t, server, ref, licenseKey)

    await t.test('cancel after the agent accepted answers 409 with the current state', async (t) => {
      const job = await submit('too late to cancel')
      const delivered = await agent.nextJob()
      t.equal(delivered.jobId, job.id)
      await report(agent.client, ref, delivered, 'accepted', 202)
      await until(server, 'acme', job.id, (j) => j.state === 'accepted')
      const late = await server.request('POST', `/v1/print-jobs/${job.id as string}/cancel`, { token: operator })
      t.equal(late.status, 409)
      t.equal(late.body.code, 'PRINTMQ_API_JOB_NOT_CANCELABLE')
      t.match(late.body.message, /is accepted/)
      await report(agent.client, ref, delivered, 'printed', 200)
      const done = await until(server, 'acme', job.id, (j) => j.state === 'printed')
      t.equal(done.state, 'printed')
    })

    await t.test('results arriving twice or out of order change nothing and are recorded as ignored', async (t) => {
      const job = await submit('results twice')
      const delivered = await agent.nextJob()
      await report(agent.client, ref, delivered, 'accepted', 202)
      await report(agent.client, ref, delivered, 'printed', 200)
      await report(agent.client, ref, delivered, 'printed', 200)
      await report(agent.client, ref, delivered, 'accepted', 202)
      await report(agent.client, ref, delivered, 'failed', 410)
      const final = await until(server, 'acme', job.id, (j) => j.history.filter((e: any) => e.ignored).length >= 3)
      t.equal(final.state, 'printed', 'the first terminal result stands')
      t.same(final.result, { code: 200, detail: null })
      t.same(final.history.filter((e: any) => e.ignored).map((e: any) => e.state), ['printed', 'accepted', 'failed'])
      t.same(final.history.filter((e: any) => !e.ignored).map((e: any) => e.state), ['queued', 'dispatched', 'accepted', 'printed'])
    })

    await t.test('reprint creates a new job linked to the original', async (t) => {
      const original = await submit('reprint me', { copies: 2, reference: 'order-7' })
      const first = await agent.nextJob()
      await report(agent.client, ref, first, 'printed', 200)
      await until(server, 'acme', original.id, (j) => j.state === 'printed')
      const reprint = await server.request('POST', `/v1/print-jobs/${original.id as string}/reprint`, { token: operator, headers: { 'idempotency-key': 'reprint-1' } })
      t.equal(reprint.status, 202)
      t.not(reprint.body.id, original.id)
      t.equal(reprint.body.reprintOf, original.id)
      t.same([reprint.body.content, reprint.body.copies, reprint.body.reference], [original.content, 2, 'order-7'])
      t.equal(reprint.headers.get('location'), `/v1/print-jobs/${reprint.body.id as string}`)
      const replay = await server.request('POST', `/v1/print-jobs/${original.id as string}/reprint`, { token: operator, headers: { 'idempotency-key': 'reprint-1' } })
      t.equal(replay.body.id, reprint.body.id, 'a retried reprint is the same reprint')
      const delivered = await agent.nextJob()
      t.equal(delivered.jobId, reprint.body.id, 'the reprint goes to the agent as a new job')
      const still = await server.request('GET', `/v1/print-jobs/${original.id as string}`, { token: operator })
      t.equal(still.body.state, 'printed', 'the original is unchanged')
      const bad = await server.request('POST', `/v1/print-jobs/${original.id as string}/reprint`, { token: operator, body: { ttlSeconds: 0 } })
      t.equal(bad.status, 400)
    })

    await t.test('the list pages with a stable cursor and filters', async (t) => {
      const admin = server.token('acme', 'admin')
      await provision(server, 'acme', { branch: 'b2', agent: 'a2', printer: 'q1', printerPort: 9 })
      const ids: string[] = []
      for (let i = 0; i < 12; i++) {
        const response = await server.request('POST', '/v1/print-jobs', { token: admin, body: { branchId: 'b2', printerId: 'q1', content: { type: 'text', text: `list ${i}` } } })
        ids.push(response.body.id)
      }
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = `/v1/print-jobs?branchId=b2&limit=5${cursor !== null ? `&cursor=${cursor}` : ''}`
        const page = await server.request('GET', query, { token: operator })
        t.equal(page.status, 200)
        seen.push(...page.body.items.map((j: any) => j.id))
        cursor = page.body.nextCursor
        // A job arriving between pages sorts before the first page: it never shifts the rest.
        if (pages++ === 0) await server.request('POST', '/v1/print-jobs', { token: admin, body: { branchId: 'b2', printerId: 'q1', content: { type: 'text', text: 'late' } } })
      } while (cursor !== null)
      t.same(seen, [...ids].reverse(), 'newest first, each job once, nothing skipped')
      t.equal(pages, 3)

      const printer = await server.request('GET', '/v1/print-jobs?printerId=p1&limit=200', { token: operator })
      t.ok(printer.body.items.length > 0 && printer.body.items.every((j: any) => j.printerId === 'p1'), 'printerId filters')
      const canceled = await server.request('GET', '/v1/print-jobs?state=canceled', { token: operator })
      t.ok(canceled.body.items.length === 1 && canceled.body.items[0].state === 'canceled', 'state filters')
      const future = await server.request('GET', `/v1/print-jobs?since=${new Date(Date.now() + 60_000).toISOString()}`, { token: operator })
      t.same(future.body.items, [], 'since filters')
      const limited = await server.request('GET', '/v1/print-jobs?limit=200', { token: server.token('acme', 'technician', { branches: ['b1'] }) })
      t.ok(limited.body.items.every((j: any) => j.branchId === 'b1'), 'a token limited to b1 sees only b1')
      t.equal((await server.request('GET', '/v1/print-jobs?branchId=b2', { token: server.token('acme', 'technician', { branches: ['b1'] }) })).status, 404)
      t.same((await server.request('GET', '/v1/print-jobs', { token: server.token('evil', 'technician') })).body.items, [], 'another tenant sees none')
      const badCursor = await server.request('GET', '/v1/print-jobs?cursor=bm90LWEtY3Vyc29y', { token: operator })
      t.equal(badCursor.status, 400)
      t.equal(badCursor.body.code, 'PRINTMQ_API_INVALID_REQUEST')
    })
  })
}
