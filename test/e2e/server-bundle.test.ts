/**
 * The built command line (`npm run build`, scripts/build-server.ts): it builds, it
 * leaves out only the packages listed, and `node dist/printmq.mjs server`, run by plain
 * Node as the systemd unit runs it, serves the API and the broker on its embedded
 * defaults (PGlite, which it loads from node_modules): a job goes to paper, the OpenAPI
 * UI and /metrics answer, bad input gets its error, SIGTERM drains and exits 0.
 */
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { isBuiltin } from 'node:module'
import { join } from 'node:path'
import t from 'tap'
import { Agent } from '../../agent/agent.js'
import { mintToken } from '../../api/auth/tokens.js'
import { buildServer, SERVER_EXTERNALS } from '../../scripts/build-server.js'
import { createLogger } from '../../shared/logger.js'
import { PRINTMQ_VERSION } from '../../shared/version.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { callJson, freePort, localServerEnv, ServerProcess, within } from '../helpers/server-process.js'

const isListedExternal = (path: string): boolean =>
  SERVER_EXTERNALS.some((e) => e.endsWith('/*') ? path.startsWith(e.slice(0, -1)) : path === e)

t.test('the built server prints a job', async (t) => {
  // t.testdir() is inside the project, so the external packages resolve from its node_modules.
  const dir = t.testdir()
  const outfile = join(dir, 'dist', 'printmq.mjs')
  const built = await buildServer({ outfile })
  t.ok(built.bytes > 1_000_000, `built (${Math.round(built.bytes / 1024)} KiB)`)

  const outputs = Object.values(built.metafile.outputs)
  const packagesAtRunTime = new Set(outputs.flatMap((o) => o.imports)
    .filter((i) => i.external && !isBuiltin(i.path) && (i.kind === 'import-statement' || i.kind === 'dynamic-import'))
    .map((i) => i.path))
  t.ok([...packagesAtRunTime].every(isListedExternal), `only the listed packages are imported from node_modules (${[...packagesAtRunTime].join(', ')})`)
  const inputs = Object.keys(built.metafile.inputs)
  t.ok(inputs.some((p) => p.includes('node_modules/fastify/')) && inputs.some((p) => p.includes('node_modules/aedes/')), 'fastify and aedes are in the build')
  t.notOk(inputs.some((p) => p.includes('node_modules/tsx/')), 'no TypeScript loader in the build')
  const entry = outputs.find((o) => o.entryPoint === 'cli/printmq.ts')
  t.notOk(entry?.imports.some((i) => i.kind === 'import-statement' && i.path.includes('node_modules')), 'the entry loads no command before it is asked for')

  const version = spawnSync(process.execPath, [outfile, '--version'], { encoding: 'utf8' })
  t.equal(version.status, 0)
  t.equal(version.stdout.trim(), PRINTMQ_VERSION, '--version')

  const secret = randomBytes(32).toString('base64url')
  const [httpPort, mqttPort] = [await freePort(), await freePort()]
  const server = new ServerProcess('built', httpPort, mqttPort, {
    ...localServerEnv(httpPort, mqttPort, join(dir, 'data'), secret),
    PRINTMQ_LOG_LEVEL: 'info',
    DATABASE_URL: '',
    PRINTMQ_REDIS_URL: '',
    NODE_OPTIONS: ''
  }, join(dir, 'server.log'), outfile)
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  let agent: Agent | null = null
  t.teardown(async () => {
    await within(10_000, 'agent stop', agent?.stop() ?? Promise.resolve()).catch(() => {})
    await server.kill().catch(() => {})
    await printer.stop()
  })
  await printer.start()
  try {
    await server.start()
  } catch (err) {
    t.comment(await server.tail())
    throw err
  }

  const admin = mintToken(secret, { tenant: 'built', role: 'admin', subject: 'test-admin', ttlSeconds: 600 })
  const operator = mintToken(secret, { tenant: 'built', role: 'operator', subject: 'test-operator', ttlSeconds: 600 })
  const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number, body: any }> =>
    await callJson(server.httpUrl, method, path, token, body)
  t.equal((await call('POST', '/v1/branches', admin, { id: 'b1' })).status, 201, 'branch created')
  const created = await call('POST', '/v1/branches/b1/agents', admin, { id: 'pi' })
  t.equal(created.status, 201, 'agent created')
  t.equal((await call('POST', '/v1/branches/b1/printers', admin, { id: 'p1', agentId: 'pi', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: printer.port } })).status, 201, 'printer created')

  agent = new Agent({
    url: server.mqttUrl,
    licenseKey: created.body.licenseKey as string,
    stateDir: join(dir, 'agent'),
    logger: createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' }),
    statusIntervalMs: 0
  })
  await agent.start()
  await agent.waitUntilOnline(20_000)

  const submitted = await call('POST', '/v1/print-jobs', operator, { branchId: 'b1', printerId: 'p1', content: { type: 'text', text: 'built-server-ticket' } })
  t.equal(submitted.status, 202, 'job accepted')
  const final = await call('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=30`, operator)
  t.equal(final.body.state, 'printed', 'job printed')
  t.ok(printer.tickets.some((ticket) => ticket.text.includes('built-server-ticket')), 'the ticket is on paper')

  const bad = await call('POST', '/v1/print-jobs', operator, { branchId: 'b1' })
  t.equal(bad.status, 400, 'bad input refused')
  t.match(bad.body, { statusCode: 400, code: String }, 'with a code')

  const docs = await fetch(`${server.httpUrl}/docs`, { redirect: 'follow' })
  t.equal(docs.status, 200, 'the OpenAPI UI (static files from node_modules) answers')
  t.match(await docs.text(), /swagger/i)
  const document = await fetch(`${server.httpUrl}/docs/json`)
  t.match(await document.json(), { openapi: /^3\./ }, 'the OpenAPI document')
  const metrics = await fetch(`${server.httpUrl}/metrics`)
  t.match(await metrics.text(), /printmq_/, '/metrics')

  await within(10_000, 'agent stop', agent.stop())
  agent = null
  const exit = await server.signal('SIGTERM', 15_000)
  t.equal(exit.code, 0, 'SIGTERM drains and exits 0')
})
