/**
 * A printer created with an `Idempotency-Key` runs in one transaction with its stored
 * response; the agent's config naming it is published only once that transaction has
 * committed. PostgreSQL only: the test holds a table lock from a second connection so
 * the request's commit waits, and watches the config topic meanwhile (PGlite has one
 * connection, so nothing can be held from outside).
 */
import pg from 'pg'
import t from 'tap'
import { agentMqttIdentity } from '../../shared/license.js'
import { agentTopic } from '../../shared/topics.js'
import { testDatabases } from '../helpers/databases.js'
import { connectClient } from '../helpers/mqtt.js'
import { provision, startTestServer } from '../helpers/server.js'

const postgres = testDatabases().filter((d) => d.name === 'postgres')
// Without PostgreSQL the test is listed as skipped with its reason (CI runs it on PostgreSQL).
if (postgres.length === 0) t.test('on postgres: the agent config is published after the idempotent request commits', { skip: 'holding a transaction open from outside needs PostgreSQL: set PRINTMQ_TEST_POSTGRES_URL' }, () => {})

for (const database of postgres) {
  t.test(`on ${database.name}: the agent config is published after the idempotent request commits`, async (t) => {
    const location = await database.create(t)
    if (location.kind !== 'postgres') throw new Error('postgres expected')
    const server = await startTestServer(t, { database: location })
    const ref = { tenant: 'acme', branch: 'b1', agent: 'a1' }
    const { licenseKey, adminToken } = await provision(server, 'acme', { branch: 'b1', agent: 'a1', printer: 'p1', printerPort: 9 })

    const identity = agentMqttIdentity(ref)
    const agent = await connectClient(t, server.mqttUrl, { username: identity.username, clientId: identity.clientId, password: licenseKey, clean: true })
    const configs: Array<{ printers: string[], at: 'open' | 'committed' }> = []
    let phase: 'open' | 'committed' = 'open'
    agent.on('message', (topic, payload) => {
      if (topic !== agentTopic(ref, 'config') || payload.length === 0) return
      configs.push({ printers: (JSON.parse(payload.toString()) as { printers: Array<{ id: string }> }).printers.map((p) => p.id), at: phase })
    })
    await agent.subscribeAsync(agentTopic(ref, 'config'), { qos: 1 })

    // Storing the idempotent response inserts into idempotency_records: make it wait.
    const blocker = new pg.Client({ connectionString: location.url })
    await blocker.connect()
    t.teardown(async () => { await blocker.end() })
    await blocker.query('begin')
    await blocker.query('lock table idempotency_records in share mode')
    const creating = server.request('POST', '/v1/branches/b1/printers', {
      token: adminToken,
      headers: { 'idempotency-key': 'printer-p2' },
      body: { id: 'p2', agentId: 'a1', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: 9 } }
    })
    // Wait (bounded) until the request's transaction waits on the lock: the route ran.
    const deadline = Date.now() + 15_000
    for (;;) {
      const waiting = await blocker.query("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database() and pid <> pg_backend_pid()")
      if ((waiting.rows[0] as { n: number }).n > 0) break
      if (Date.now() > deadline) throw new Error('the request never reached its commit')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // A config published now (before commit) would reach the agent within this pause.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    phase = 'committed'
    await blocker.query('rollback')
    const created = await creating
    t.equal(created.status, 201)

    const until = Date.now() + 15_000
    while (!configs.some((c) => c.printers.includes('p2')) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
    t.same(configs.filter((c) => c.at === 'open' && c.printers.includes('p2')), [], 'no config naming the printer while its transaction was open')
    t.ok(configs.some((c) => c.at === 'committed' && c.printers.includes('p2')), 'the config naming it came once committed')
  })
}
