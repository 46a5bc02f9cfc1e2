/**
 * printmq with Mosquitto instead of its own broker (issue 3): the real `mosquitto`
 * binary runs mosquitto.conf.example on a free port with the files `printmq
 * mosquitto-files` wrote from the database; `printmq server` runs with its broker off
 * and PRINTMQ_MQTT_URL pointing at it. A job is printed end to end through Mosquitto,
 * and a representative part of the isolation suite runs against it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import t, { type Test } from 'tap'
import { Agent } from '../../agent/agent.js'
import { mosquittoPasswordLine } from '../../broker/mosquitto-config.js'
import { run as migrate } from '../../cli/migrate-command.js'
import { run as mosquittoFiles } from '../../cli/mosquitto-files-command.js'
import { newId } from '../../shared/ids.js'
import { agentMqttIdentity } from '../../shared/license.js'
import { createLogger } from '../../shared/logger.js'
import { agentTopic } from '../../shared/topics.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { publishCases, subscribeCases, willCases, type Victim } from '../broker/helpers/hostile-cases.js'
import { tryCase, type Login } from '../broker/helpers/hostile-runner.js'
import { RawClient, rawConnack } from '../broker/helpers/raw-client.js'
import { provision, startTestServer, type TestServer } from '../helpers/server.js'

const silent = createLogger({ level: 'silent' })
const dir = t.testdir()
const dataDir = join(dir, 'data')
const out = join(dir, 'mosquitto')
const servicePassword = randomBytes(24).toString('base64url')
const watcherPassword = randomBytes(24).toString('base64url')

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

const port = await freePort()
const url = `mqtt://127.0.0.1:${port}`
const env = {
  PRINTMQ_DATA_DIR: dataDir,
  PRINTMQ_MQTT_PASSWORD: servicePassword,
  PRINTMQ_LOG_LEVEL: 'silent'
}

/** Run `printmq mosquitto-files`, then add the test's watcher account (reads and writes everything). */
async function writeFiles (args: string[] = []): Promise<void> {
  const log = console.log
  console.log = () => {}
  try { await mosquittoFiles(['--out', out, '--technician', 'tech-acme:acme:b1', ...args], env) } finally { console.log = log }
  await appendFile(join(out, 'passwd'), mosquittoPasswordLine('test-watcher', watcherPassword) + '\n')
  await appendFile(join(out, 'acl'), '\nuser test-watcher\ntopic readwrite #\n')
}

/** Resolves when Mosquitto's log has printed a line matching `pattern` (after `from` lines). */
function logLine (logs: string[], child: ChildProcess, pattern: RegExp, from = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (logs.slice(from).some((l) => pattern.test(l))) { child.stderr?.off('data', check); resolve() }
    }
    child.stderr?.on('data', check)
    child.once('exit', (code) => { reject(new Error(`mosquitto exited with ${String(code)}: ${logs.join('')}`)) })
    check()
  })
}

// 1. An empty database and the files for it: the server account only.
await migrate([], env)
await writeFiles()
const example = await readFile(new URL('../../mosquitto.conf.example', import.meta.url), 'utf8')
const conf = example
  .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
  .replace(/^password_file .*$/m, `password_file ${join(out, 'passwd')}`)
  .replace(/^acl_file .*$/m, `acl_file ${join(out, 'acl')}`)
  .replace(/^persistence true$/m, 'persistence false')
  .replace(/^persistence_location .*$/m, '')
  // Started as root, Mosquitto would switch to the `mosquitto` user, which cannot read this test's files.
  + `\nuser ${userInfo().username}\n`
await writeFile(join(dir, 'generated.conf'), conf)
const logs: string[] = []
const mosquitto = spawn('mosquitto', ['-c', join(dir, 'generated.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
mosquitto.stderr.on('data', (chunk: Buffer) => { logs.push(chunk.toString()) })
t.teardown(() => { mosquitto.kill() })
await logLine(logs, mosquitto, /running/)

async function startServer (t: Test): Promise<TestServer> {
  return await startTestServer(t, {
    database: { kind: 'pglite', dataDir },
    env: { PRINTMQ_BROKER: 'off', PRINTMQ_MQTT_URL: url, PRINTMQ_MQTT_USERNAME: 'printmq-service', PRINTMQ_MQTT_PASSWORD: servicePassword }
  })
}

// 2. Provision two tenants through the API, then stop the server (PGlite is single-process).
const printer = new VirtualPrinter()
await printer.start()
t.teardown(() => printer.stop())
const keys: Record<string, string> = {}
{
  const setup = await startServer(t)
  const agents = [
    ['acme', 'b1', 'a1', 'p1'], ['acme', 'b1', 'a2', 'p2'], ['acme', 'b1', 'canary', 'pc'], ['acme', 'b2', 'a3', 'p3'], ['globex', 'b1', 'a1', 'p1']
  ] as const
  for (const [tenant, branch, agent, printerId] of agents) {
    keys[`${tenant}/${branch}/${agent}`] = (await provision(setup, tenant, { branch, agent, printer: printerId, printerPort: printer.port })).licenseKey
  }
  await setup.server.stop()
}

// 3. Files with the new keys; Mosquitto reloads them on SIGHUP.
await writeFile(join(dir, 'new-keys.txt'), Object.values(keys).join('\n') + '\n')
await writeFiles(['--licenses', join(dir, 'new-keys.txt')])
const before = logs.length
mosquitto.kill('SIGHUP')
await logLine(logs, mosquitto, /reloading/i, before)

const server = await startServer(t)
const ref = (key: string): { tenant: string, branch: string, agent: string } => {
  const [tenant, branch, agent] = key.split('/') as [string, string, string]
  return { tenant, branch, agent }
}

t.test('the password file mosquitto-files writes is accepted by the real mosquitto, and only with the right key', async (t) => {
  const a2 = agentMqttIdentity(ref('acme/b1/a2'))
  const good = await RawClient.open(port)
  t.equal(await rawConnack(good, { clientId: a2.clientId, clean: true, username: a2.username, password: keys['acme/b1/a2'] }), 0)
  good.destroy()
  const bad = await RawClient.open(port)
  t.equal(await rawConnack(bad, { clientId: a2.clientId, clean: true, username: a2.username, password: keys['acme/b1/a3'] }), 5)
  bad.destroy()
})

t.test('a job is printed end to end through Mosquitto', async (t) => {
  const agent = new Agent({ url, licenseKey: keys['acme/b1/a1'] as string, stateDir: t.testdir(), logger: silent, statusTimeoutMs: 1000 })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  const submitted = await server.request('POST', '/v1/print-jobs', { token: server.token('acme', 'operator'), body: { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'Via Mosquitto\n1x Soup' } } })
  t.equal(submitted.status, 202)
  const done = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=20`, { token: server.token('acme', 'operator') })
  t.equal(done.body.state, 'printed')
  t.match((await printer.waitForTickets(1))[0]?.text, /Via Mosquitto/)
})

t.test('a printer discovery travels through Mosquitto with the generated ACL', async (t) => {
  const agent = new Agent({
    url, licenseKey: keys['acme/b1/a1'] as string, stateDir: t.testdir(), logger: silent, statusIntervalMs: 0,
    discovery: { serial: { list: async () => [], devDir: join(dir, 'no-dev') } }
  })
  t.teardown(() => agent.stop())
  await agent.start()
  await agent.waitUntilOnline()
  const admin = server.token('acme', 'admin')
  let asked = await server.request('POST', '/v1/branches/b1/agents/a1/discovery', { token: admin, body: { tcp: { hosts: ['127.0.0.1'], ports: [printer.port] } } })
  // The server learns the agent is online from its health, which may still be on its way.
  for (let i = 0; i < 100 && asked.status === 409; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    asked = await server.request('POST', '/v1/branches/b1/agents/a1/discovery', { token: admin, body: { tcp: { hosts: ['127.0.0.1'], ports: [printer.port] } } })
  }
  t.equal(asked.status, 202, JSON.stringify(asked.body))
  const done = await server.request('GET', `/v1/branches/b1/agents/a1/discovery/${asked.body.id as string}?wait=30`, { token: admin })
  t.equal(done.body.state, 'completed')
  t.same(done.body.report.tcp, [{ host: '127.0.0.1', port: printer.port, reachable: true, statusAnswered: true, state: 'ready', registeredAs: 'p1' }])
})

t.test('a representative part of the isolation suite is refused by Mosquitto', async (t) => {
  const watcher = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, username: 'test-watcher', password: watcherPassword, clientId: 'test-watcher', clean: true })
  t.teardown(() => watcher.endAsync(true))
  const seen: Array<{ topic: string, payload: Buffer }> = []
  watcher.on('message', (topic, payload) => { seen.push({ topic, payload }) })
  await watcher.subscribeAsync('#', { qos: 1 })
  let marker = 0
  const ctx = {
    port,
    seen,
    settle: async () => {
      const topic = `test/settle/${++marker}`
      const arrived = new Promise<void>((resolve) => { const on = (tp: string): void => { if (tp === topic) { watcher.off('message', on); resolve() } }; watcher.on('message', on) })
      await watcher.publishAsync(topic, 'x', { qos: 1 })
      await arrived
    }
  }
  const canaryRef = ref('acme/b1/canary')
  const canaryLogin = { protocolVersion: 4 as const, reconnectPeriod: 0, clean: false, ...agentMqttIdentity(canaryRef), password: keys['acme/b1/canary'] as string }
  const first = await mqtt.connectAsync(url, canaryLogin)
  await first.subscribeAsync(agentTopic(canaryRef, 'jobs'), { qos: 1 })
  await first.endAsync()
  const canaryReceivesJob = async (): Promise<boolean> => {
    const canary = await mqtt.connectAsync(url, canaryLogin).catch(() => null)
    if (canary === null) return false
    const id = newId()
    const arrived = new Promise<boolean>((resolve) => {
      canary.on('message', (_topic, payload) => { if (payload.includes(id)) resolve(true) })
      canary.once('close', () => { resolve(false) })
    })
    await watcher.publishAsync(agentTopic(canaryRef, 'jobs'), JSON.stringify({ id }), { qos: 1 })
    const ok = await arrived
    await canary.endAsync()
    return ok
  }

  const victim = (label: string, key: string, printerId: string): Victim => ({ label, ref: ref(key), printer: printerId })
  const sameBranch = victim('an agent of the same branch', 'acme/b1/a1', 'p1')
  const otherBranch = victim('an agent of another branch', 'acme/b2/a3', 'p3')
  const otherTenant = victim('the agent with the same ids in another tenant', 'globex/b1/a1', 'p1')
  const hostile = agentMqttIdentity(ref('acme/b1/a2'))
  const technicianPassword = (await readFile(join(out, 'technician-passwords'), 'utf8')).split('\n').find((l) => l.startsWith('tech-acme:'))?.slice('tech-acme:'.length) as string
  const own = ref('acme/b1/a2')
  const actors: Array<[string, Login, boolean, Victim[], (topic: string) => boolean]> = [
    ['agent', { clientId: hostile.clientId, clean: true, username: hostile.username, password: keys['acme/b1/a2'] as string }, true, [sameBranch, otherBranch, otherTenant],
      (topic) => topic === agentTopic(own, 'jobs') || topic === agentTopic(own, 'config') || topic === agentTopic(own, 'discovery')],
    ['technician', { clientId: 'tech-acme', clean: true, username: 'tech-acme', password: technicianPassword }, true, [otherBranch, otherTenant],
      (topic) => topic.startsWith('printmq/v1/acme/b1/')],
    ['unauthenticated client', { clientId: 'anon', clean: true, username: hostile.username, password: 'wrong' }, false, [sameBranch, otherBranch, otherTenant], () => false]
  ]
  let total = 0
  for (const [name, login, authenticated, victims, mayReceive] of actors) {
    // What Mosquitto cannot check (payload schemas, QoS of an agent's own subscription, its own
    // retained deletes) stays out: see README "Running with Mosquitto".
    const cases = [...subscribeCases(victims, null), ...publishCases(name === 'technician' ? [...victims, sameBranch] : victims, null), ...willCases(victims, null)]
      .filter((c) => !(c.kind === 'subscribe' && /\u0000/.test(c.filter)))
    for (const c of cases) {
      t.equal(await tryCase({ ...ctx, mayReceive }, c, login, authenticated, 'mosquitto'), 'refused', `${name}: ${c.name}`)
      t.ok(await canaryReceivesJob(), `after "${c.name}" a legitimate agent connects and receives a job`)
    }
    total += cases.length
  }
  t.comment(`hostile cases against Mosquitto: ${total}, all refused`)
})

t.test('after a rotation and a revocation, rerunning mosquitto-files and reloading locks the old keys out', async (t) => {
  const admin = server.token('acme', 'admin')
  const rotated = await server.request('POST', '/v1/branches/b1/agents/a2/license', { token: admin })
  t.equal(rotated.status, 200)
  t.equal((await server.request('DELETE', '/v1/branches/b2/agents/a3/license', { token: admin })).status, 200)
  await server.server.stop()
  await writeFile(join(dir, 'stale-keys.txt'), `${keys['acme/b1/a2'] as string}\n`)
  await t.rejects(writeFiles(['--licenses', join(dir, 'stale-keys.txt')]), { code: 'PRINTMQ_CONFIG_INVALID' }, 'a key that is no longer current is refused')
  await writeFile(join(dir, 'rotated-keys.txt'), `${rotated.body.licenseKey as string}\n`)
  await writeFiles(['--licenses', join(dir, 'rotated-keys.txt')])
  const from = logs.length
  mosquitto.kill('SIGHUP')
  await logLine(logs, mosquitto, /reloading/i, from)
  const code = async (key: string, password: string): Promise<number | null> => {
    const identity = agentMqttIdentity(ref(key))
    const client = await RawClient.open(port)
    const rc = await rawConnack(client, { clientId: identity.clientId, clean: true, username: identity.username, password })
    client.destroy()
    return rc
  }
  t.equal(await code('acme/b1/a2', keys['acme/b1/a2'] as string), 5, 'the rotated-away key')
  t.equal(await code('acme/b1/a2', rotated.body.licenseKey as string), 0, 'the new key')
  t.equal(await code('acme/b2/a3', keys['acme/b2/a3'] as string), 5, 'the revoked agent')
  t.equal(await code('globex/b1/a1', keys['globex/b1/a1'] as string), 0, 'an untouched agent keeps its line without its key being passed again')
})
