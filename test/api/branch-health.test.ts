/** `GET /v1/branches/{id}/health`: agents and printers classified from MQTT health and status. */
import t from 'tap'
import { classifyAgent, OFFLINE_AFTER_MS, DEGRADED_AFTER_MS } from '../../api/agents/agent-health-classifier.js'
import type { AgentHealthMessage } from '../../shared/messages.js'
import { connectFakeAgent } from '../helpers/fake-agent.js'
import { openEventStream } from '../helpers/sse.js'
import { provision, startTestServer } from '../helpers/server.js'

const server = await startTestServer(t)
const admin = server.token('acme', 'admin')
const { licenseKey } = await provision(server, 'acme', { branch: 'hb', agent: 'good', printer: 'p-good', printerPort: 9 })
const slow = await server.request('POST', '/v1/branches/hb/agents', { token: admin, body: { id: 'slow' } })
await server.request('POST', '/v1/branches/hb/printers', { token: admin, body: { id: 'p-slow', agentId: 'slow', model: 'star', connection: { type: 'tcp', host: 'h', port: 9100 } } })
await server.request('POST', '/v1/branches/hb/agents', { token: admin, body: { id: 'never' } })
await server.request('POST', '/v1/branches/hb/printers', { token: admin, body: { id: 'p-never', agentId: 'never', model: 'epson', connection: { type: 'tcp', host: 'h', port: 9100 } } })

t.test('each agent is online, degraded or offline and each printer shows its status and queue', async (t) => {
  const good = await connectFakeAgent(t, server.mqttUrl, licenseKey)
  const degraded = await connectFakeAgent(t, server.mqttUrl, slow.body.licenseKey)
  // Wait for the server to have applied the messages: it publishes them as live events.
  const events = await openEventStream(t, `${server.httpUrl}/v1/events?types=printer,agent`, { authorization: `Bearer ${admin}` })
  await good.publishHealth({ sessionId: 'g1', online: true, rttMs: 8, reconnects: 0, printers: [{ id: 'p-good', queueDepth: 1 }] })
  await good.publishStatus('p-good', { printerId: 'p-good', sessionId: 'g1', state: 'paper-low' })
  await degraded.publishHealth({ sessionId: 's1', online: true, rttMs: 2500, reconnects: 7 })
  await degraded.publishStatus('p-slow', { printerId: 'p-slow', sessionId: 's1', state: 'cover-open', detail: 'lid up' })
  const seen = new Set<string>()
  while (seen.size < 4) {
    const item = await events.next((i) => i.kind === 'event')
    seen.add(`${item.event as string}:${(item.data.agentId ?? item.data.printerId) as string}`)
  }
  const job = await server.request('POST', '/v1/print-jobs', { token: server.token('acme', 'operator'), body: { branchId: 'hb', printerId: 'p-good', content: { type: 'text', text: 'x' } } })
  t.equal(job.status, 202)

  const health = await server.request('GET', '/v1/branches/hb/health', { token: server.token('acme', 'technician') })
  t.equal(health.status, 200)
  const agents = Object.fromEntries(health.body.agents.map((a: any) => [a.id, a]))
  t.match(agents.good, { state: 'online', reasons: [], rttMs: 8, reconnects: 0 })
  t.ok(Date.parse(agents.good.lastSeen) > 0)
  t.match(agents.slow, { state: 'degraded', rttMs: 2500, reconnects: 7 })
  t.match(agents.slow.reasons, [/round-trip time 2500 ms/])
  t.match(agents.never, { state: 'offline', lastSeen: null })
  const printers = Object.fromEntries(health.body.printers.map((p: any) => [p.id, p]))
  t.match(printers['p-good'], { agentId: 'good', state: 'paper-low', queueDepth: 1, agentQueueDepth: 1 })
  t.match(printers['p-slow'], { state: 'cover-open', detail: 'lid up', queueDepth: 0 })
  t.match(printers['p-never'], { state: 'offline', detail: 'agent offline' })

  await good.publishHealth({ sessionId: 'g1', online: false })
  await events.next((i) => i.event === 'agent' && i.data.agentId === 'good' && i.data.online === false)
  const after = await server.request('GET', '/v1/branches/hb/health', { token: admin })
  t.match(after.body.agents.find((a: any) => a.id === 'good'), { state: 'offline' })
  t.match(after.body.printers.find((p: any) => p.id === 'p-good'), { state: 'offline' })
})

t.test('health of an unknown, foreign or out-of-scope branch is 404', async (t) => {
  t.equal((await server.request('GET', '/v1/branches/nope/health', { token: admin })).body.code, 'PRINTMQ_API_BRANCH_NOT_FOUND')
  t.equal((await server.request('GET', '/v1/branches/hb/health', { token: server.token('evil', 'admin') })).status, 404)
  t.equal((await server.request('GET', '/v1/branches/hb/health', { token: server.token('acme', 'admin', { branches: ['x'] }) })).status, 404)
})

t.test('an agent that stops sending health is degraded, then offline', async (t) => {
  const health: AgentHealthMessage = { v: 1, kind: 'agent-health', id: 'h', correlationId: 'c', sentAt: new Date().toISOString(), sessionId: 's', online: true }
  const lastSeen = new Date(0)
  t.equal(classifyAgent({ online: true, lastSeen, health }, DEGRADED_AFTER_MS).state, 'online')
  t.equal(classifyAgent({ online: true, lastSeen, health }, DEGRADED_AFTER_MS + 1).state, 'degraded')
  t.equal(classifyAgent({ online: true, lastSeen, health }, OFFLINE_AFTER_MS + 1).state, 'offline')
  t.equal(classifyAgent({ online: true, lastSeen, health: { ...health, rttMs: 999 } }, 0).state, 'online')
  t.equal(classifyAgent({ online: true, lastSeen, health: { ...health, rttMs: 1000 } }, 0).state, 'degraded')
  t.equal(classifyAgent({ online: true, lastSeen, health: { ...health, lastError: 'connack timeout' } }, 0).state, 'online', 'an old error alone does not degrade')
})
