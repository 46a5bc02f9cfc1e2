/**
 * Operations over real sockets (server, agent, virtual printer): /metrics counts what
 * happened; logs follow one correlation id from the HTTP request to the agent's
 * "job printed" line and never contain a license key or a bearer token.
 */
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { capturingLogger } from '../helpers/log-capture.js'
import { provision, startTestServer } from '../helpers/server.js'

const serverLog = capturingLogger('trace')
const agentLog = capturingLogger('trace')
const server = await startTestServer(t, { logger: serverLog.logger })
const printer = new VirtualPrinter()
await printer.start()
t.teardown(() => printer.stop())
const { licenseKey, adminToken } = await provision(server, 'acme', { branch: 'ops', agent: 'ops-pi', printer: 'ops-p', printerPort: printer.port })
const agent = new Agent({ url: server.mqttUrl, licenseKey, stateDir: t.testdir(), logger: agentLog.logger, statusTimeoutMs: 1000 })
t.teardown(() => agent.stop())
await agent.start()
await agent.waitUntilOnline()

const operator = server.token('acme', 'operator')
const submitted = await server.request('POST', '/v1/print-jobs', { token: operator, body: { branchId: 'ops', printerId: 'ops-p', content: { type: 'text', text: 'Table 3' } }, headers: { 'x-correlation-id': 'ops-order-77' } })
const done = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=20`, { token: operator })
// A refused login, to be counted and logged without its token.
const refusedToken = `${operator.slice(0, -4)}AAAA`
await server.request('GET', '/v1/branches', { token: refusedToken })

t.test('the job was printed', async (t) => {
  t.equal(done.body.state, 'printed')
})

t.test('metrics count jobs by state, print latency, agents, MQTT traffic and failed logins', async (t) => {
  const response = await fetch(`${server.httpUrl}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain/)
  const text = await response.text()
  const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN)
  t.ok(value(/^printmq_jobs_total\{state="queued"\} (\d+)/m) >= 1, 'queued jobs')
  t.ok(value(/^printmq_jobs_total\{state="printed"\} (\d+)/m) >= 1, 'printed jobs')
  t.ok(value(/^printmq_job_submit_to_printed_seconds_count (\d+)/m) >= 1, 'latency observed')
  t.equal(value(/^printmq_agents_online (\d+)/m), 1)
  t.ok(value(/^printmq_api_failed_logins_total (\d+)/m) >= 1, 'failed logins')
  t.match(text, /^# TYPE printmq_db_errors_total counter/m)
  t.match(text, /^printmq_process_resident_memory_bytes/m)
  if (typeof server.server.broker?.stats === 'function') {
    t.equal(value(/^printmq_broker_connected_agents (\d+)/m), 1)
    t.ok(value(/^printmq_broker_messages_in (\d+)/m) > 0, 'broker messages in')
    t.ok(value(/^printmq_broker_messages_out (\d+)/m) > 0, 'broker messages out')
  }
  t.notMatch(text, /acme|ops-p/, 'no tenant or printer ids in labels')
})

t.test('one correlation id is followed from the HTTP request through the broker to the agent printing', async (t) => {
  const about = (line: Record<string, unknown>): boolean => line.correlationId === 'ops-order-77'
  t.ok(serverLog.lines.some((l) => about(l) && l.component === 'api'), 'the API request')
  t.ok(serverLog.lines.some((l) => about(l) && l.component === 'broker'), 'the broker')
  t.ok(agentLog.lines.some((l) => about(l) && l.msg === 'job printed'), "the agent's printed line")
})

t.test('no log line holds a license key or a bearer token', async (t) => {
  const everything = JSON.stringify([...serverLog.lines, ...agentLog.lines])
  t.ok(serverLog.lines.length > 20 && agentLog.lines.length > 5, 'there are log lines to check')
  const secret = licenseKey.split('.').at(-1) as string
  t.notOk(everything.includes(secret), 'the license key (its secret part) is not logged')
  for (const [name, token] of Object.entries({ admin: adminToken, operator, refused: refusedToken })) {
    const signature = token.split('.')[2] as string
    t.notOk(everything.includes(signature), `the ${name} token is not logged`)
  }
})
