/**
 * Which ports the server listens on when the ones it wants are taken: on embedded
 * defaults a busy 1883 falls back to 18830 (the same port at every start, so the URLs
 * handed to agents and technicians stay valid), then to a free port; a port that was
 * chosen and is busy stops the server with PRINTMQ_PORT_IN_USE naming the setting,
 * never a stack trace. Real sockets hold the ports.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { FALLBACK_MQTT_PORT, loadServerConfig, type ServerConfig } from '../../server/config.js'
import { PrintmqServer } from '../../server/server.js'
import { createLogger } from '../../shared/logger.js'
import { capturingLogger } from '../helpers/log-capture.js'
import { freePort } from '../helpers/server-process.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Hold `port` on 127.0.0.1 until the test ends (0: a free one); returns the port. */
async function holdPort (t: Test, port = 0): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject).listen(port, '127.0.0.1', resolve) })
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  return (server.address() as { port: number }).port
}

/** The embedded-defaults config (MQTT port not chosen) on 127.0.0.1, with `changes`. */
async function defaultsConfig (t: Test, env: Record<string, string>, changes: Partial<ServerConfig> = {}): Promise<ServerConfig> {
  const dataDir = await mkdtemp(join(tmpdir(), 'printmq-ports-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const config = loadServerConfig({
    PRINTMQ_HTTP_HOST: '127.0.0.1', PRINTMQ_HTTP_PORT: '0', PRINTMQ_MQTT_HOST: '127.0.0.1',
    PRINTMQ_DATA_DIR: dataDir, PRINTMQ_JWT_SECRET: randomBytes(32).toString('base64url'), ...env
  })
  return { ...config, ...changes }
}

async function startServer (t: Test, config: ServerConfig): Promise<{ mqttPort: number, logs: Array<Record<string, unknown>> }> {
  const { logger, lines } = capturingLogger('info')
  const server = new PrintmqServer(config, logger, { database: { kind: 'pglite', dataDir: null } })
  t.teardown(async () => { await server.stop() })
  const { mqttPort } = await server.start()
  return { mqttPort: mqttPort ?? 0, logs: lines }
}

t.test('the fallback MQTT port is 18830', async (t) => {
  t.equal(FALLBACK_MQTT_PORT, 18830)
  const config = await defaultsConfig(t, {})
  t.equal(config.mqttPort, 1883)
  t.equal(config.mqttPortExplicit, false)
})

t.test('a busy default MQTT port falls back to the fixed fallback port, with a warning naming it', async (t) => {
  const busy = await holdPort(t)
  const fallback = await freePort()
  const { mqttPort, logs } = await startServer(t, await defaultsConfig(t, {}, { mqttPort: busy, mqttFallbackPort: fallback }))
  t.equal(mqttPort, fallback)
  const warning = logs.find((r) => r.busyPorts !== undefined)
  t.match(warning, { level: 40, busyPorts: [busy], port: fallback, msg: new RegExp(`mqtt port ${busy} in use .*listening on ${fallback} instead`) })
})

t.test('when the fallback port is busy too, a free port is used', async (t) => {
  const busy = await holdPort(t)
  const fallback = await holdPort(t)
  const { mqttPort, logs } = await startServer(t, await defaultsConfig(t, {}, { mqttPort: busy, mqttFallbackPort: fallback }))
  t.not(mqttPort, busy)
  t.not(mqttPort, fallback)
  t.ok(mqttPort > 0)
  t.match(logs.find((r) => r.busyPorts !== undefined), { busyPorts: [busy, fallback], port: mqttPort })
})

t.test('a chosen MQTT port that is busy is an error naming the setting', async (t) => {
  const busy = await holdPort(t)
  const config = await defaultsConfig(t, { PRINTMQ_MQTT_PORT: String(busy) })
  const server = new PrintmqServer(config, createLogger({ level: 'silent' }), { database: { kind: 'pglite', dataDir: null } })
  await t.rejects(server.start(), { code: 'PRINTMQ_PORT_IN_USE', message: `PRINTMQ_MQTT_PORT (or --mqtt-port): port ${busy} on 127.0.0.1 is in use (another broker, or another printmq?); stop that process or choose another port` })
})

t.test('a busy HTTP port is an error naming the setting, and the broker started before it is closed again', async (t) => {
  const busy = await holdPort(t)
  const mqttPort = await freePort()
  const config = await defaultsConfig(t, { PRINTMQ_HTTP_PORT: String(busy), PRINTMQ_MQTT_PORT: String(mqttPort) })
  const server = new PrintmqServer(config, createLogger({ level: 'silent' }), { database: { kind: 'pglite', dataDir: null } })
  await t.rejects(server.start(), { code: 'PRINTMQ_PORT_IN_USE', message: new RegExp(`^PRINTMQ_HTTP_PORT \\(or --http-port\\): port ${busy} on 127.0.0.1 is in use`) })
  // The MQTT port is free again: the failed start stopped the broker.
  t.equal(await holdPort(t, mqttPort), mqttPort)
})

t.test('printmq server with a busy chosen port prints one line naming the setting and exits 1', async (t) => {
  const busy = await holdPort(t)
  const dataDir = await mkdtemp(join(tmpdir(), 'printmq-ports-cli-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const { code, stderr } = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    execFile(process.execPath, [join(root, 'bin/printmq.js'), 'server', '--mqtt-port', String(busy), '--http-port', '0', '--data-dir', dataDir], {
      env: { ...process.env, PRINTMQ_MQTT_HOST: '127.0.0.1', PRINTMQ_HTTP_HOST: '127.0.0.1', PRINTMQ_LOG_LEVEL: 'silent' },
      timeout: 60_000
    }, (err, _stdout, stderr) => { resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? null, stderr }) })
  })
  t.equal(code, 1)
  t.equal(stderr.trim(), `printmq server: PRINTMQ_MQTT_PORT (or --mqtt-port): port ${busy} on 127.0.0.1 is in use (another broker, or another printmq?); stop that process or choose another port (PRINTMQ_PORT_IN_USE)`)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
})
