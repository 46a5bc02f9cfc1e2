import t from 'tap'
import { authorizePublish, authorizeSubscribe, authorizeWill } from '../../broker/acl.js'
import type { AgentPrincipal, Principal } from '../../broker/principal.js'
import { newId } from '../../shared/ids.js'
import { encodeMessage } from '../../shared/messages.js'
import { agentTopic, printerStatusTopic } from '../../shared/topics.js'

const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
const agent: AgentPrincipal = { kind: 'agent', ref, printers: new Set(['p1']) }
const technician: Principal = { kind: 'technician', tenant: 'acme', branches: null, subject: 'tech' }
const branchTechnician: Principal = { kind: 'technician', tenant: 'acme', branches: ['b1'], subject: 'tech' }
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
