/**
 * The broker as `printmq server` wires it: MQTT over WebSocket on the HTTP port at
 * /mqtt, technicians verified with the API's JWT rules, limits from the environment.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import t from 'tap'
import { capturingLogger } from '../helpers/log-capture.js'
import { agentMqttIdentity } from '../../shared/license.js'
import { agentTopic } from '../../shared/topics.js'
import { connackCode, subackCodes } from '../helpers/mqtt.js'
import { provision, startTestServer } from '../helpers/server.js'

const server = await startTestServer(t, { env: { PRINTMQ_MQTT_MAX_PACKET_BYTES: '2048' } })
const { licenseKey } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
const wsUrl = `${server.httpUrl.replace('http:', 'ws:')}/mqtt`

t.test('an agent connects over WebSocket on the HTTP port at /mqtt', async (t) => {
  const client = await mqtt.connectAsync(wsUrl, { protocolVersion: 4, reconnectPeriod: 0, ...agentMqttIdentity(ref), password: licenseKey })
  t.teardown(() => client.endAsync(true))
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 1 } }), [1])
  t.equal(server.server.broker?.stats().connectedAgents, 1)
})

t.test('a technician logs in with a token the API would accept, and only with the technician role', async (t) => {
  const token = server.token('acme', 'technician', { branches: ['b1'] })
  const client = await mqtt.connectAsync(server.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, username: 'technician', password: token, clean: true })
  t.teardown(() => client.endAsync(true))
  t.same(await subackCodes(client, { 'printmq/v1/acme/b1/#': { qos: 1 }, 'printmq/v1/acme/#': { qos: 1 } }), [1, 128])
  t.equal(await connackCode(server.mqttUrl, { username: 'technician', password: server.token('acme', 'operator'), clean: true }), 5, 'an operator token')
})

t.test('PRINTMQ_MQTT_MAX_PACKET_BYTES limits packets on TCP and WebSocket', async (t) => {
  for (const url of [server.mqttUrl, wsUrl]) {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...agentMqttIdentity(ref), password: licenseKey })
    const closed = new Promise<void>((resolve) => { client.once('close', () => { resolve() }) })
    client.publish(agentTopic(ref, 'results'), Buffer.alloc(4096, 0x20), { qos: 0 })
    await closed
    t.pass(`closed on ${url.split(':')[0] as string}`)
    await client.endAsync(true)
  }
})

t.test('PRINTMQ_MQTT_TLS_CERT and PRINTMQ_MQTT_TLS_KEY add an mqtts listener', async (t) => {
  const dir = t.testdir()
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
  const { logger, lines } = capturingLogger('info')
  const tlsServer = await startTestServer(t, { logger, env: { PRINTMQ_MQTT_TLS_CERT: join(dir, 'cert.pem'), PRINTMQ_MQTT_TLS_KEY: join(dir, 'key.pem'), PRINTMQ_MQTTS_PORT: '0' } })
  const { licenseKey: key } = await provision(tlsServer, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })
  const port = lines.find((l) => l.msg === 'mqtts listening')?.port as number
  t.ok(port > 0, 'the log names the port')
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, ...agentMqttIdentity(ref), password: key, ca: await readFile(join(dir, 'cert.pem')) })
  t.teardown(() => client.endAsync(true))
  t.same(await subackCodes(client, { [agentTopic(ref, 'jobs')]: { qos: 1 } }), [1])
})
