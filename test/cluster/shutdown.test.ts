/**
 * SIGTERM drains `printmq server` (issue 8): new connections are refused at once, a
 * request in flight still gets its answer, the process exits 0 within the grace period;
 * a second signal exits at once. One process on PGlite: runs everywhere.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { mintToken } from '../../api/auth/tokens.js'
import { freePort, localServerEnv, ServerProcess, within } from './helpers/cluster.js'

async function startServer (t: Test, graceSeconds: number): Promise<{ server: ServerProcess, call: (path: string, init?: RequestInit) => Promise<Response>, token: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'printmq-shutdown-'))
  const secret = randomBytes(32).toString('base64url')
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const server = new ServerProcess('solo', httpPort, mqttPort, {
    ...localServerEnv(httpPort, mqttPort, join(dir, 'data'), secret),
    PRINTMQ_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
    PRINTMQ_REDIS_URL: '',
    DATABASE_URL: ''
  }, join(dir, 'server.log'))
  t.teardown(async () => {
    await server.kill().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  await server.start()
  const token = mintToken(secret, { tenant: 'drain', role: 'admin', subject: 'test', ttlSeconds: 600 })
  const call = async (path: string, init: RequestInit = {}): Promise<Response> => await fetch(server.httpUrl + path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    signal: AbortSignal.timeout(30_000)
  })
  return { server, call, token }
}

/** A queued job (no agent ever takes it), for a long poll that lasts its whole `wait`. */
async function queuedJob (call: (path: string, init?: RequestInit) => Promise<Response>): Promise<string> {
  const post = async (path: string, body: unknown): Promise<any> => await (await call(path, { method: 'POST', body: JSON.stringify(body) })).json()
  await post('/v1/branches', { id: 'b1' })
  await post('/v1/branches/b1/agents', { id: 'pi' })
  await post('/v1/branches/b1/printers', { id: 'p1', agentId: 'pi', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: 9 } })
  const job = await post('/v1/print-jobs', { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'drain' } })
  return job.id as string
}

async function refusesConnections (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => { resolve(true) })
  })
}

t.test('SIGTERM: no new connections, the request in flight is answered, exit 0 within the grace period', async (t) => {
  const { server, call } = await startServer(t, 10)
  const jobId = await queuedJob(call)
  const longPoll = call(`/v1/print-jobs/${jobId}?wait=3`)
  await sleep(500)
  const exit = server.signal('SIGTERM', 15_000)
  await sleep(300)
  t.ok(await refusesConnections(server.httpPort), 'HTTP refuses new connections while draining')
  t.ok(await refusesConnections(server.mqttPort), 'MQTT refuses new connections while draining')
  const response = await within(10_000, 'long poll answer', longPoll)
  t.equal(response.status, 200, 'the request in flight got its answer')
  t.equal(((await response.json()) as { id: string }).id, jobId, 'with the job')
  const { code, ms } = await exit
  t.equal(code, 0, 'exit code 0')
  t.ok(ms < 10_000, `exited within the grace period (${ms} ms)`)
})

t.test('a long poll longer than the grace period is cut at half of it; exit 0', async (t) => {
  const { server, call } = await startServer(t, 2)
  const jobId = await queuedJob(call)
  const longPoll = call(`/v1/print-jobs/${jobId}?wait=30`).then(() => 'answered', () => 'cut')
  await sleep(500)
  const { code, ms } = await server.signal('SIGTERM', 10_000)
  t.equal(code, 0, 'exit code 0')
  t.ok(ms < 2000, `exited within the 2 s grace period (${ms} ms)`)
  t.equal(await longPoll, 'cut', 'the long poll was cut (the client retries it elsewhere)')
})

t.test('a second signal exits at once', async (t) => {
  const { server, call } = await startServer(t, 30)
  const jobId = await queuedJob(call)
  // A slow drain: the long poll holds the HTTP close for up to half the grace (15 s).
  void call(`/v1/print-jobs/${jobId}?wait=30`).catch(() => {})
  await sleep(500)
  const exit = server.signal('SIGTERM', 20_000)
  await sleep(1000)
  t.ok(server.running, 'still draining after 1 s')
  const started = Date.now()
  await server.signal('SIGINT', 5000).catch(() => {})
  const { code } = await exit
  t.equal(code, 1, 'exit code 1 (drain not finished)')
  t.ok(Date.now() - started < 3000, 'gone right after the second signal')
})
