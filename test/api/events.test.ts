/**
 * `GET /v1/events` read with a real HTTP client (fetch + stream reader): events in the
 * token's scope only, filters, heartbeats, and Last-Event-ID resumption.
 */
import t from 'tap'
import { connectFakeAgent } from '../helpers/fake-agent.js'
import { openEventStream, type SseItem } from '../helpers/sse.js'
import { provision, startTestServer } from '../helpers/server.js'

const server = await startTestServer(t, { env: { PRINTMQ_EVENTS_HEARTBEAT_SECONDS: '1' } })
const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
await provision(server, 'acme', { branch: 'b2', agent: 'a2', printer: 'p2', printerPort: 9 })
await provision(server, 'evil', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
const agent = await connectFakeAgent(t, server.mqttUrl, licenseKey)

const url = (query = ''): string => `${server.httpUrl}/v1/events${query}`
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const isEvent = (type: string) => (item: SseItem): boolean => item.kind === 'event' && item.event === type

async function submit (tenant: string, branchId: string, printerId: string, reference: string): Promise<string> {
  const response = await server.request('POST', '/v1/print-jobs', { token: server.token(tenant, 'operator'), body: { branchId, printerId, reference, content: { type: 'text', text: reference } } })
  if (response.status !== 202) throw new Error(`submit: ${response.status}`)
  return response.body.id
}

t.test('job events reach only callers whose tenant and branches cover the job', async (t) => {
  const limited = await openEventStream(t, url('?types=job'), bearer(server.token('acme', 'operator', { branches: ['b1'] })))
  t.equal(limited.status, 200)
  t.match(limited.headers.get('content-type'), /^text\/event-stream/)
  t.ok(limited.headers.get('x-correlation-id'), 'the stream carries a correlation id')
  const first = await submit('acme', 'b1', 'p1', 'first')
  const event = await limited.next(isEvent('job'))
  t.match(event.data, { jobId: first, branchId: 'b1', printerId: 'p1', reference: 'first' })
  t.ok(['queued', 'dispatched'].includes(event.data.state), `state ${event.data.state as string}`)
  t.ok(event.id, 'events carry an id')

  await submit('acme', 'b2', 'p2', 'other branch')
  await submit('evil', 'b1', 'p1', 'other tenant')
  const last = await submit('acme', 'b1', 'p1', 'last')
  // Events are flushed in order of their first update: the two outside the scope would come first.
  const next = await limited.next((item) => isEvent('job')(item) && item.data.jobId !== first)
  t.equal(next.data.jobId, last, 'the other branch and the other tenant were never sent')
})

t.test('printer status and agent health arrive as events, filtered by type and branch', async (t) => {
  const printers = await openEventStream(t, url('?types=printer&branchId=b1'), bearer(server.token('acme', 'technician')))
  const agents = await openEventStream(t, url('?types=agent'), bearer(server.token('acme', 'technician')))
  await agent.publishHealth({ sessionId: 's1', online: true, rttMs: 42, reconnects: 1 })
  await agent.publishStatus('p1', { printerId: 'p1', sessionId: 's1', state: 'paper-out' })
  const status = await printers.next(isEvent('printer'))
  t.match(status.data, { printerId: 'p1', branchId: 'b1', state: 'paper-out' })
  const health = await agents.next(isEvent('agent'))
  t.match(health.data, { agentId: 'a1', branchId: 'b1', online: true, rttMs: 42, reconnects: 1 })
  const refused = await server.request('GET', '/v1/events?branchId=b2', { token: server.token('acme', 'operator', { branches: ['b1'] }) })
  t.equal(refused.body.code, 'PRINTMQ_API_BRANCH_NOT_FOUND', 'a branch filter outside the token is an unknown branch')
  t.equal((await server.request('GET', '/v1/events?types=jobs', { token: server.token('acme', 'operator') })).status, 400)
})

t.test('heartbeat comments keep an idle stream alive', async (t) => {
  const stream = await openEventStream(t, url('?types=job&branchId=b2'), bearer(server.token('acme', 'operator')))
  const beat = await stream.next((item) => item.kind === 'comment')
  t.equal(beat.comment, 'heartbeat')
})

t.test('Last-Event-ID resumes with the events missed, in order, and an unknown id asks to resync', async (t) => {
  const token = server.token('acme', 'technician')
  const first = await openEventStream(t, url('?types=printer'), bearer(token))
  const watcher = await openEventStream(t, url('?types=printer'), bearer(token))
  await agent.publishStatus('p1', { printerId: 'p1', sessionId: 's1', state: 'cover-open' })
  const seen = await first.next((item) => isEvent('printer')(item) && item.data.state === 'cover-open')
  first.close()

  await agent.publishStatus('p1', { printerId: 'p1', sessionId: 's1', state: 'paper-low' })
  await watcher.next((item) => isEvent('printer')(item) && item.data.state === 'paper-low')
  await agent.publishStatus('p1', { printerId: 'p1', sessionId: 's1', state: 'ready' })
  await watcher.next((item) => isEvent('printer')(item) && item.data.state === 'ready')

  const resumed = await openEventStream(t, url('?types=printer'), { ...bearer(token), 'last-event-id': seen.id as string })
  const missed1 = await resumed.next(isEvent('printer'))
  const missed2 = await resumed.next(isEvent('printer'))
  t.same([missed1.data.state, missed2.data.state], ['paper-low', 'ready'], 'nothing lost, nothing repeated')

  const stale = await openEventStream(t, url(), { ...bearer(token), 'last-event-id': 'deadbeef-1' })
  const resync = await stale.next((item) => item.kind === 'event')
  t.equal(resync.event, 'resync')
})

t.test('stopping the server ends open streams instead of waiting for them', async (t) => {
  const other = await startTestServer(t)
  const stream = await openEventStream(t, `${other.httpUrl}/v1/events`, bearer(other.token('acme', 'operator')))
  await other.server.stop()
  await t.rejects(stream.next((item) => item.kind === 'event'), /stream ended|terminated/)
})
