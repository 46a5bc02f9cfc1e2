import t from 'tap'
import { authorizePublish, authorizeSubscribe, authorizeWill } from '../../broker/acl.js'
import type { AgentPrincipal, Principal } from '../../broker/principal.js'
import { newId } from '../../shared/ids.js'
import { encodeMessage } from '../../shared/messages.js'
import { agentTopic, printerStatusTopic } from '../../shared/topics.js'

const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
const agent: AgentPrincipal = { kind: 'agent', ref, printers: new Set(['p1']) }
const technician: Principal = { kind: 'technician', tenant: 'acme', branches: null, subject: 'tech', expiresAt: Date.now() + 3_600_000 }
const branchTechnician: Principal = { kind: 'technician', tenant: 'acme', branches: ['b1'], subject: 'tech', expiresAt: Date.now() + 3_600_000 }
const service: Principal = { kind: 'service' }

const health = encodeMessage('agent-health', 'c', { sessionId: 's1', online: true })
const result = encodeMessage('job-result', 'c', { jobId: newId(), printerId: 'p1', state: 'printed', code: 200 })
const status = (printerId: string): Buffer => encodeMessage('printer-status', 'c', { printerId, sessionId: 's1', state: 'ready' })

t.test('acl lets an agent subscribe only to its own jobs and config', async (t) => {
  t.ok(authorizeSubscribe(agent, agentTopic(ref, 'jobs')).allow)
  t.ok(authorizeSubscribe(agent, agentTopic(ref, 'config')).allow)
  for (const filter of ['#', '+/#', 'printmq/v1/acme/#', 'printmq/v1/acme/b1/agents/+/jobs', agentTopic({ ...ref, agent: 'a2' }, 'jobs'),
    agentTopic(ref, 'results'), agentTopic(ref, 'health'), 'printmq/v1/acme/b1/agents/a1/#', '$SYS/#', '$share/g/printmq/v1/acme/b1/agents/a1/jobs',
    agentTopic({ ...ref, tenant: 'other' }, 'jobs'), 'a/#/b', 'a'.repeat(10) + '/+x']) {
    t.notOk(authorizeSubscribe(agent, filter).allow, filter)
  }
})

t.test('acl lets a technician read inside the tenant or branches only', async (t) => {
  t.ok(authorizeSubscribe(technician, 'printmq/v1/acme/#').allow)
  t.ok(authorizeSubscribe(technician, 'printmq/v1/acme/+/printers/+/status').allow)
  t.notOk(authorizeSubscribe(technician, 'printmq/v1/+/#').allow)
  t.notOk(authorizeSubscribe(technician, '#').allow)
  t.notOk(authorizeSubscribe(technician, '$SYS/#').allow)
  t.ok(authorizeSubscribe(branchTechnician, 'printmq/v1/acme/b1/#').allow)
  t.notOk(authorizeSubscribe(branchTechnician, 'printmq/v1/acme/#').allow)
  t.notOk(authorizeSubscribe(branchTechnician, 'printmq/v1/acme/b2/#').allow)
  t.notOk(authorizePublish(technician, { topic: agentTopic(ref, 'results'), payload: result, retain: false, qos: 1 }).allow)
})

t.test('acl lets an agent publish its results, health and its printers status only', async (t) => {
  t.ok(authorizePublish(agent, { topic: agentTopic(ref, 'results'), payload: result, retain: false, qos: 1 }).allow)
  t.ok(authorizePublish(agent, { topic: agentTopic(ref, 'health'), payload: health, retain: true, qos: 1 }).allow)
  t.ok(authorizePublish(agent, { topic: printerStatusTopic({ ...ref, printer: 'p1' }), payload: status('p1'), retain: true, qos: 1 }).allow)
  const refused: Array<[string, Buffer, boolean]> = [
    [agentTopic({ ...ref, agent: 'a2' }, 'results'), result, false],
    [agentTopic({ ...ref, agent: 'a2' }, 'health'), health, true],
    [agentTopic(ref, 'jobs'), result, false],
    [agentTopic(ref, 'config'), result, true],
    [printerStatusTopic({ ...ref, printer: 'p2' }), status('p2'), true],
    [printerStatusTopic({ ...ref, printer: 'p1' }), status('p2'), true],
    [printerStatusTopic({ ...ref, printer: 'p1' }), Buffer.alloc(0), true],
    [agentTopic(ref, 'health'), Buffer.alloc(0), true],
    [agentTopic(ref, 'results'), result, true],
    [agentTopic(ref, 'results'), Buffer.from('{"not":"a result"}'), false],
    [agentTopic({ ...ref, tenant: 'other' }, 'results'), result, false],
    ['$SYS/x/clients/kick', result, false],
    ['anything/else', result, false]
  ]
  for (const [topic, payload, retain] of refused) {
    t.notOk(authorizePublish(agent, { topic, payload, retain, qos: 1 }).allow, `${topic} retain=${retain}`)
  }
})

t.test('acl accepts only a Will on the agent own health topic', async (t) => {
  const will = encodeMessage('agent-health', 'c', { sessionId: 's1', online: false })
  t.ok(authorizeWill(agent, { topic: agentTopic(ref, 'health'), payload: will, retain: true, qos: 1 }).allow)
  t.notOk(authorizeWill(agent, { topic: agentTopic({ ...ref, agent: 'a2' }, 'health'), payload: will, retain: true, qos: 1 }).allow)
  t.notOk(authorizeWill(agent, { topic: agentTopic(ref, 'results'), payload: result, retain: false, qos: 1 }).allow)
  t.notOk(authorizeWill(technician, { topic: agentTopic(ref, 'health'), payload: will, retain: true, qos: 1 }).allow)
  t.ok(authorizeWill(agent, undefined).allow)
})

t.test('the service identity may publish jobs and config but not $SYS', async (t) => {
  t.ok(authorizePublish(service, { topic: agentTopic(ref, 'jobs'), payload: result, retain: false, qos: 1 }).allow)
  t.notOk(authorizePublish(service, { topic: '$SYS/x', payload: result, retain: false, qos: 1 }).allow)
})

const discoveryReport = encodeMessage('discovery-report', 'c', { discoveryId: newId(), serial: { method: 'skipped', ports: [] }, tcp: [], durationMs: 3 })
const discoveryRequest = encodeMessage('discovery-request', 'c', { discoveryId: newId(), serial: true, timeoutMs: 1000, expiresAt: new Date(Date.now() + 60_000).toISOString() })

t.test('acl lets an agent read its own discovery requests only, at QoS 1', async (t) => {
  t.ok(authorizeSubscribe(agent, agentTopic(ref, 'discovery')).allow)
  t.notOk(authorizeSubscribe(agent, agentTopic(ref, 'discovery'), 0).allow, 'QoS 0 is refused like jobs')
  for (const filter of [agentTopic({ ...ref, agent: 'a2' }, 'discovery'), agentTopic({ ...ref, tenant: 'other' }, 'discovery'),
    agentTopic(ref, 'discovered'), agentTopic({ ...ref, agent: 'a2' }, 'discovered'), 'printmq/v1/acme/b1/agents/+/discovery', 'printmq/v1/acme/b1/agents/+/discovered']) {
    t.notOk(authorizeSubscribe(agent, filter).allow, filter)
  }
})

t.test('acl lets an agent publish a discovery report on its own discovered topic only', async (t) => {
  t.ok(authorizePublish(agent, { topic: agentTopic(ref, 'discovered'), payload: discoveryReport, retain: false, qos: 1 }).allow)
  const refused: Array<[string, string, Buffer, boolean]> = [
    ['retained', agentTopic(ref, 'discovered'), discoveryReport, true],
    ['another agent\'s', agentTopic({ ...ref, agent: 'a2' }, 'discovered'), discoveryReport, false],
    ['another branch\'s', agentTopic({ ...ref, branch: 'b2' }, 'discovered'), discoveryReport, false],
    ['another tenant\'s', agentTopic({ ...ref, tenant: 'other' }, 'discovered'), discoveryReport, false],
    ['a result as a report', agentTopic(ref, 'discovered'), result, false],
    ['a request as a report', agentTopic(ref, 'discovered'), discoveryRequest, false],
    ['not JSON', agentTopic(ref, 'discovered'), Buffer.from('\u0000x'), false],
    ['a request to itself', agentTopic(ref, 'discovery'), discoveryRequest, false],
    ['a request to another agent', agentTopic({ ...ref, agent: 'a2' }, 'discovery'), discoveryRequest, false]
  ]
  for (const [name, topic, payload, retain] of refused) {
    t.notOk(authorizePublish(agent, { topic, payload, retain, qos: 1 }).allow, name)
  }
  t.notOk(authorizeWill(agent, { topic: agentTopic(ref, 'discovered'), payload: discoveryReport, retain: false, qos: 1 }).allow, 'not as a Will')
})

t.test('acl lets technicians read discovery in scope and never ask for one', async (t) => {
  for (const channel of ['discovery', 'discovered'] as const) {
    t.ok(authorizeSubscribe(technician, agentTopic(ref, channel)).allow, `tenant technician reads ${channel}`)
    t.ok(authorizeSubscribe(branchTechnician, agentTopic(ref, channel)).allow, `branch technician reads ${channel} of its branch`)
    t.notOk(authorizeSubscribe(branchTechnician, agentTopic({ ...ref, branch: 'b2' }, channel)).allow, `branch technician does not read ${channel} of another branch`)
    t.notOk(authorizeSubscribe(technician, agentTopic({ ...ref, tenant: 'other' }, channel)).allow, `technician does not read ${channel} of another tenant`)
  }
  t.ok(authorizeSubscribe(branchTechnician, 'printmq/v1/acme/b1/agents/+/discovered').allow)
  t.notOk(authorizePublish(technician, { topic: agentTopic(ref, 'discovery'), payload: discoveryRequest, retain: false, qos: 1 }).allow)
  t.ok(authorizePublish(service, { topic: agentTopic(ref, 'discovery'), payload: discoveryRequest, retain: false, qos: 1 }).allow, 'the server asks')
})
