/**
 * `npm run demo` / `printmq demo`: the whole system in one process on free ports —
 * server (PGlite, embedded broker), a virtual printer and an agent — provisioned over
 * the REST API like a user would, then one sample ticket printed and shown.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Agent } from '../agent/agent.js'
import { mintToken } from '../api/auth/tokens.js'
import { loadServerConfig } from '../server/config.js'
import { PrintmqServer } from '../server/server.js'
import { createLogger } from '../shared/logger.js'
import { VirtualPrinter } from '../virtual-printer/virtual-printer.js'
import { untilSignal } from './signals.js'

const HELP = `usage: printmq demo [--once] [--data-dir DIR] [--http-port N] [--mqtt-port N]

Starts server, virtual printer and agent on free ports (data in a new temporary
directory, removed when the demo ends, unless --data-dir), prints a sample ticket and
shows it with the job's history. Keeps running so you can try the API, unless --once;
Ctrl-C stops it.`

const SAMPLE_TICKET = [
  'PRINTMQ DEMO KITCHEN',
  'Table 7 - 2 guests',
  '------------------------------',
  '2x Margherita',
  '1x Caesar salad (no croutons)',
  '1x Sparkling water',
  '------------------------------',
  'Order #1042'
].join('\n')

export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      once: { type: 'boolean' },
      'data-dir': { type: 'string' },
      'http-port': { type: 'string' },
      'mqtt-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(HELP); return }
  // A directory the demo made for itself is removed when it ends; one given is kept.
  const ownDataDir = values['data-dir'] === undefined
  const dataDir = ownDataDir ? await mkdtemp(join(tmpdir(), 'printmq-demo-')) : resolve(values['data-dir'] as string)
  const secret = randomBytes(32).toString('base64url')
  const config = loadServerConfig({
    ...env,
    PRINTMQ_HTTP_HOST: '127.0.0.1',
    PRINTMQ_MQTT_HOST: '127.0.0.1',
    PRINTMQ_HTTP_PORT: values['http-port'] ?? '0',
    PRINTMQ_MQTT_PORT: values['mqtt-port'] ?? '0',
    PRINTMQ_DATA_DIR: dataDir,
    PRINTMQ_JWT_SECRET: secret
  })
  // Logs would drown the walkthrough: only warnings and errors are shown.
  const logger = createLogger({ level: env.PRINTMQ_LOG_LEVEL ?? 'warn' })
  const say = (line: string): void => { console.log(line) }

  say(`printmq demo: data in ${dataDir}${ownDataDir ? ' (removed when the demo ends; --data-dir DIR keeps it)' : ''}`)
  const server = new PrintmqServer(config, logger)
  const printer = new VirtualPrinter({ port: 0, outDir: join(dataDir, 'virtual-printer') })
  let agent: Agent | null = null
  const stopAll = async (): Promise<void> => {
    try {
      await agent?.stop()
      await printer.stop()
      await server.stop()
    } finally {
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true })
    }
  }
  try {
    const { httpPort, mqttPort } = await server.start()
    const api = `http://127.0.0.1:${httpPort}`
    say(`server: API ${api}, MQTT mqtt://127.0.0.1:${mqttPort ?? '-'}`)
    const printerPort = await printer.start()
    say(`virtual printer: 127.0.0.1:${printerPort}`)

    const token = mintToken(secret, { tenant: 'demo', role: 'admin', subject: 'demo', ttlSeconds: 86_400 })
    const call = async (method: string, path: string, body?: unknown): Promise<any> => {
      const response = await fetch(api + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
      const json = await response.json()
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
      return json
    }
    await call('POST', '/v1/branches', { id: 'downtown', name: 'Downtown' })
    const created = await call('POST', '/v1/branches/downtown/agents', { id: 'kitchen-pi', name: 'Kitchen Raspberry Pi' })
    await call('POST', '/v1/branches/downtown/printers', {
      id: 'kitchen', agentId: 'kitchen-pi', model: 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: printerPort }
    })
    say('provisioned: branch downtown, agent kitchen-pi (license shown once), printer kitchen')

    agent = new Agent({ url: `mqtt://127.0.0.1:${mqttPort ?? 0}`, licenseKey: created.licenseKey as string, stateDir: join(dataDir, 'agent-state'), logger })
    await agent.start()
    await agent.waitUntilOnline()
    say('agent kitchen-pi: online')

    const job = await call('POST', '/v1/print-jobs', { branchId: 'downtown', printerId: 'kitchen', content: { type: 'text', text: SAMPLE_TICKET }, reference: 'order-1042' })
    say(`job ${job.id as string} submitted (correlation id ${job.correlationId as string})`)
    const done = await call('GET', `/v1/print-jobs/${job.id as string}?wait=30`)
    const [ticket] = await printer.waitForTickets(1, 10_000)
    say('\n--- the ticket as printed ---')
    say(ticket?.text.trimEnd() ?? '(nothing printed)')
    say('--- end of ticket ---\n')
    say(`job state: ${done.state as string}`)
    for (const event of done.history as Array<{ state: string, at: string, ignored: boolean }>) {
      say(`  ${event.at}  ${event.state}${event.ignored ? ' (ignored duplicate)' : ''}`)
    }
    if (values.once === true) {
      await stopAll()
      if (done.state !== 'printed') process.exitCode = 1
      return
    }
    say(`\nStill running. Try: curl -s ${api}/v1/print-jobs/${job.id as string} -H "authorization: Bearer ${token}"`)
    say('Press Ctrl-C to stop.')
    await untilSignal()
    await stopAll()
  } catch (err) {
    await stopAll()
    throw err
  }
}
