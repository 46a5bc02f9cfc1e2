import t from 'tap'
import { agentMqttIdentity, createLicenseKey } from '../../shared/license.js'
import { encodeMessage } from '../../shared/messages.js'
import { newId } from '../../shared/ids.js'
import { agentTopic } from '../../shared/topics.js'
import { connackCode, connectClient, subackCodes, waitForClose } from '../helpers/mqtt.js'
import { provision, startTestServer } from '../helpers/server.js'

const tenant = 'acme'
const ref = { tenant, branch: 'b1', agent: 'a1' }
const identity = agentMqttIdentity(ref)
const server = await startTestServer(t)
const { licenseKey } = await provision(server, tenant, { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
const agentLogin = { username: identity.username, password: licenseKey, clientId: identity.clientId, clean: false }

t.test('an agent logs in with its license and gets its own topics at QoS 1', async (t) => {
  const client = await connectClient(t, server.mqttUrl, agentLogin)
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 1 }, [agentTopic(ref, 'config')]: { qos: 1 } }), [1, 1])
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 0 } }), [128], 'a QoS 0 jobs subscription is refused: jobs would lose at-least-once delivery')
})

t.test('the broker refuses bad logins with CONNACK codes', async (t) => {
  t.equal(await connackCode(server.mqttUrl, { ...agentLogin, password: createLicenseKey(ref) }), 5, 'a key with the wrong secret')
  t.equal(await connackCode(server.mqttUrl, { ...agentLogin, password: 'not-a-key' }), 5, 'not a key at all')
  t.equal(await connackCode(server.mqttUrl, { ...agentLogin, username: 'agent.acme.b1.other' }), 5, 'username of another agent')
  t.equal(await connackCode(server.mqttUrl, { ...agentLogin, clientId: 'agent.acme.b1.other' }), 2, 'client id of another agent')
  t.equal(await connackCode(server.mqttUrl, { clientId: 'anon', clean: true }), 4, 'no credentials')
  t.equal(await connackCode(server.mqttUrl, { username: 'printmq-service', password: 'guess', clientId: 'printmq.x' }), 5, 'service identity without its secret')
  t.equal(await connackCode(server.mqttUrl, {
    ...agentLogin, will: { topic: agentTopic({ ...ref, agent: 'a2' }, 'health'), payload: encodeMessage('agent-health', 'c', { sessionId: 's', online: false }), qos: 1, retain: true }
  }), 5, 'a Will outside its own health topic')
  t.equal(await connackCode(server.mqttUrl, agentLogin), 0, 'and the right login still works')
})

t.test('an agent cannot subscribe outside its own topics', async (t) => {
  const client = await connectClient(t, server.mqttUrl, agentLogin)
  const codes = await subackCodes(client, {
    '#': { qos: 1 },
    'printmq/v1/acme/#': { qos: 1 },
    [agentTopic({ ...ref, agent: 'a2' }, 'jobs')]: { qos: 1 },
    '$SYS/#': { qos: 1 }
  })
  t.same(codes, [128, 128, 128, 128])
})

t.test('an agent publishing to another agent topic is disconnected', async (t) => {
  const client = await connectClient(t, server.mqttUrl, agentLogin)
  const result = encodeMessage('job-result', 'c', { jobId: newId(), printerId: 'p1', state: 'printed', code: 200 })
  client.publish(agentTopic({ ...ref, agent: 'a2' }, 'results'), result, { qos: 1 })
  await waitForClose(client)
  t.pass('closed by the broker')
})
