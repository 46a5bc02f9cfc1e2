/**
 * `printmq agent --check` right after the server restarted: the embedded broker lost
 * its retained messages, and the agent itself has not come back yet. The check logs in
 * with the license; the server publishes the agent's config at that first login since
 * its start, so the check finds the printer (instead of a false "no printer config").
 * Then the real agent comes online: its config and a job still reach it.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { mintToken } from '../../api/auth/tokens.js'
import { loadServerConfig } from '../../server/config.js'
import { PrintmqServer } from '../../server/server.js'
import { createLogger } from '../../shared/logger.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { freePort } from '../helpers/server-process.js'

const bin = fileURLToPath(new URL('../../bin/printmq.js', import.meta.url))
const logger = createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' })

t.test('the check finds the config after a server restart, before the agent is back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'printmq-check-restart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const secret = randomBytes(32).toString('base64url')
  const mqttPort = await freePort()
  const config = loadServerConfig({
    PRINTMQ_HTTP_HOST: '127.0.0.1', PRINTMQ_HTTP_PORT: '0', PRINTMQ_MQTT_HOST: '127.0.0.1', PRINTMQ_MQTT_PORT: String(mqttPort),
    PRINTMQ_DATA_DIR: dir, PRINTMQ_JWT_SECRET: secret
  })
  // PGlite on disk, so the second server finds what the first stored.
  const database = { kind: 'pglite', dataDir: join(dir, 'db') } as const
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(async () => { await printer.stop() })

  const first = new PrintmqServer(config, logger, { database })
  const { httpPort } = await first.start()
  const token = mintToken(secret, { tenant: 'acme', role: 'admin', subject: 'test', ttlSeconds: 600 })
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return await response.json()
  }
  await call('POST', '/v1/branches', { id: 'downtown' })
  const { licenseKey } = await call('POST', '/v1/branches/downtown/agents', { id: 'kitchen-pi' })
  await call('POST', '/v1/branches/downtown/printers', { id: 'kitchen', agentId: 'kitchen-pi', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: printer.port } })
  await first.stop()

  const second = new PrintmqServer(config, logger, { database })
  const { httpPort: secondHttpPort } = await second.start()
  t.teardown(async () => { await second.stop() })

  const check = await new Promise<{ code: number, stdout: string }>((resolve) => {
    execFile(process.execPath, [bin, 'agent', '--check', '--url', `mqtt://127.0.0.1:${mqttPort}`], { env: { ...process.env, PRINTMQ_LICENSE: licenseKey as string }, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? -1, stdout })
    })
  })
  t.equal(check.code, 0, check.stdout)
  t.match(check.stdout, /ok +config +1 printer\n/)
  t.match(check.stdout, /ok +printer kitchen \(epson, tcp 127\.0\.0\.1:\d+\) +ready/)

  // The real agent comes back: it gets its config and prints a job.
  const agent = new Agent({ url: `mqtt://127.0.0.1:${mqttPort}`, licenseKey: licenseKey as string, stateDir: join(dir, 'agent-state'), logger })
  await agent.start()
  t.teardown(async () => { await agent.stop() })
  await agent.waitUntilOnline()
  const submitted = await fetch(`http://127.0.0.1:${secondHttpPort}/v1/print-jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ branchId: 'downtown', printerId: 'kitchen', content: { type: 'text', text: 'after the restart' } })
  }).then(async (r) => await r.json() as { id: string })
  const done = await fetch(`http://127.0.0.1:${secondHttpPort}/v1/print-jobs/${submitted.id}?wait=20`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => await r.json() as { state: string })
  t.equal(done.state, 'printed')
  t.match((await printer.waitForTickets(1, 5000))[0]?.text, /after the restart/)
})
