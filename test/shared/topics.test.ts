import t from 'tap'
import {
  agentTopic, branchLevels, filterWithin, isWellFormedFilter, parseTopic, printerStatusTopic, SERVER_SUBSCRIPTIONS, tenantFilter, tenantLevels
} from '../../shared/topics.js'

const ref = { tenant: 'acme', branch: 'b-1', agent: 'a_1' }

t.test('agent topics follow the design tree', async (t) => {
  t.equal(agentTopic(ref, 'jobs'), 'printmq/v1/acme/b-1/agents/a_1/jobs')
  t.equal(agentTopic(ref, 'health'), 'printmq/v1/acme/b-1/agents/a_1/health')
  t.equal(agentTopic(ref, 'discovery'), 'printmq/v1/acme/b-1/agents/a_1/discovery')
  t.equal(agentTopic(ref, 'discovered'), 'printmq/v1/acme/b-1/agents/a_1/discovered')
  t.equal(printerStatusTopic({ tenant: 'acme', branch: 'b-1', printer: 'p1' }), 'printmq/v1/acme/b-1/printers/p1/status')
  t.equal(tenantFilter('acme'), 'printmq/v1/acme/#')
})

t.test('building a topic with an invalid id throws', async (t) => {
  for (const bad of ['', 'a/b', '+', '#', '$x', 'a.b', 'x'.repeat(65), 'nul\u0000']) {
    t.throws(() => agentTopic({ ...ref, agent: bad }, 'jobs'), TypeError, JSON.stringify(bad))
  }
})

t.test('parse inverts build for every channel', async (t) => {
  for (const channel of ['jobs', 'results', 'config', 'health', 'discovery', 'discovered'] as const) {
    t.same(parseTopic(agentTopic(ref, channel)), { kind: 'agent', channel, ref })
  }
  t.same(parseTopic('printmq/v1/acme/b-1/printers/p1/status'), { kind: 'printer-status', ref: { tenant: 'acme', branch: 'b-1', printer: 'p1' } })
})

t.test('parse rejects foreign and malformed topics', async (t) => {
  for (const topic of ['printmq/v2/acme/b/agents/a/jobs', 'printmq/v1/acme/b/agents/a/other', 'printmq/v1/acme/b/agents/a', 'printmq/v1/acme/b/agents/a/jobs/x',
    'printmq/v1/ac.me/b/agents/a/jobs', 'printmq/v1/acme/b/printers/p/config', '$SYS/broker', '']) {
    t.equal(parseTopic(topic), null, topic)
  }
})

t.test('filters are checked for well-formedness', async (t) => {
  t.ok(isWellFormedFilter('a/+/c/#'))
  for (const bad of ['a/#/c', 'a/b#', 'a/+b', '', 'a/\u0000']) t.notOk(isWellFormedFilter(bad), bad)
})

t.test('filterWithin keeps wildcards inside the prefix', async (t) => {
  t.ok(filterWithin('printmq/v1/acme/#', tenantLevels('acme')))
  t.ok(filterWithin('printmq/v1/acme/+/agents/+/health', tenantLevels('acme')))
  t.notOk(filterWithin('printmq/v1/+/#', tenantLevels('acme')))
  t.notOk(filterWithin('printmq/#', tenantLevels('acme')))
  t.notOk(filterWithin('#', tenantLevels('acme')))
  t.notOk(filterWithin('printmq/v1/other/#', tenantLevels('acme')))
  t.ok(filterWithin('printmq/v1/acme/b1/#', branchLevels('acme', 'b1')))
  t.notOk(filterWithin('printmq/v1/acme/+/#', branchLevels('acme', 'b1')))
})

t.test('server subscriptions match what agents publish', async (t) => {
  t.equal(SERVER_SUBSCRIPTIONS.length, 4)
  t.ok(SERVER_SUBSCRIPTIONS.includes('printmq/v1/+/+/agents/+/discovered'), 'discovery reports reach the server')
  t.notOk(SERVER_SUBSCRIPTIONS.includes('printmq/v1/+/+/agents/+/discovery'), 'the server does not read its own requests back')
  t.ok(SERVER_SUBSCRIPTIONS.every((s) => s.startsWith('printmq/v1/+/+/')))
})
