/**
 * The bundled agent (`npm run build:agent`, scripts/build-agent.ts): it builds, it keeps
 * the native packages out and loads them only on demand, and the built file, run by
 * plain Node as the systemd unit runs it, connects to a real server and prints jobs
 * (one through the native resvg it loads from node_modules).
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { AGENT_EXTERNALS, buildAgent } from '../../scripts/build-agent.js'
import { PRINTMQ_VERSION } from '../../shared/version.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { provision, startTestServer } from '../helpers/server.js'

t.test('the bundled agent connects and prints', async (t) => {
  // t.testdir() is inside the project, so the external packages resolve from its node_modules.
  const dir = t.testdir()
  const outfile = join(dir, 'printmq-agent.mjs')
  const built = await buildAgent({ outfile })
  t.ok(built.bytes > 100_000, `bundle built (${Math.round(built.bytes / 1024)} KiB)`)

  const output = Object.values(built.metafile.outputs)[0]
  const staticImports = (output?.imports ?? []).filter((i) => i.external && i.kind === 'import-statement' && !i.path.startsWith('node:'))
  t.same(staticImports.map((i) => i.path), [], 'no package is imported from node_modules at start')
  const dynamicImports = (output?.imports ?? []).filter((i) => i.external && i.kind === 'dynamic-import').map((i) => i.path)
  t.ok(dynamicImports.includes('serialport'), 'serialport is loaded on first use only')
  t.ok(dynamicImports.every((p) => AGENT_EXTERNALS.some((e) => e.endsWith('/*') ? p.startsWith(e.slice(0, -1)) : p === e)), 'only the listed externals are imported at run time')
  const bundled = Object.keys(built.metafile.inputs)
  t.ok(bundled.some((p) => p.includes('node_modules/mqtt/')), 'mqtt is in the bundle')
  t.notOk(bundled.some((p) => p.includes('node_modules/tsx/') || p.includes('node_modules/fastify/') || p.includes('node_modules/@electric-sql/')), 'no loader or server code in the bundle')

  const version = spawnSync(process.execPath, [outfile, '--version'], { encoding: 'utf8' })
  t.equal(version.status, 0)
  t.equal(version.stdout.trim(), PRINTMQ_VERSION, '--version')

  const server = await startTestServer(t)
  const printer = new VirtualPrinter({ commandSet: 'epson' })
  await printer.start()
  t.teardown(() => printer.stop())
  const { licenseKey } = await provision(server, 'bundle', { branch: 'b1', agent: 'pi', printer: 'kitchen', printerPort: printer.port })

  // As docs/printmq-agent.service runs it: plain node, --lite-mode, no tsx.
  const child = spawn(process.execPath, ['--lite-mode', '--no-expose-wasm', outfile, '--url', server.mqttUrl, '--state-dir', join(dir, 'state'), '--log-level', 'info', '--status-interval', '0'], {
    env: { ...process.env, PRINTMQ_LICENSE: licenseKey, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  let log = ''
  child.stdout.on('data', (chunk: Buffer) => { log += chunk.toString('utf8') })
  const deadline = Date.now() + 20_000
  while (!log.includes('"msg":"mqtt connected"')) {
    if (child.exitCode !== null) throw new Error(`bundled agent exited with ${child.exitCode}:\n${log}`)
    if (Date.now() > deadline) throw new Error(`bundled agent not connected after 20 s:\n${log}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.pass('connected with its license')

  const operator = server.token('bundle', 'operator')
  const submitted = await server.request('POST', '/v1/print-jobs', {
    token: operator,
    body: {
      branchId: 'b1',
      printerId: 'kitchen',
      content: {
        type: 'receipt',
        blocks: [
          { type: 'text', text: 'bundle-ticket', bold: true, align: 'center' },
          { type: 'columns', columns: [{ text: '1x Soup' }, { text: '4.50', align: 'right', width: 8 }] },
          { type: 'qr', data: 'https://example.com/r/1' }
        ]
      }
    }
  })
  t.equal(submitted.status, 202, 'job accepted by the API')
  const done = await server.request('GET', `/v1/print-jobs/${submitted.body.id as string}?wait=30`, { token: operator })
  t.equal(done.body.state, 'printed', 'job reported printed')
  const tickets = await printer.waitForTickets(1, 10_000)
  t.match(tickets[0]?.text ?? '', /bundle-ticket/, 'the ticket reached the printer')
  t.match(tickets[0]?.text ?? '', /1x Soup/)

  // Arabic is drawn by @resvg/resvg-js (native, not bundled) with fonts resolved from
  // node_modules: the bundle must still find both.
  const arabic = await server.request('POST', '/v1/print-jobs', {
    token: operator,
    body: { branchId: 'b1', printerId: 'kitchen', content: { type: 'receipt', blocks: [{ type: 'text', text: 'arabic-ticket' }, { type: 'text', text: 'شوربة عدس' }] } }
  })
  t.equal(arabic.status, 202)
  const arabicDone = await server.request('GET', `/v1/print-jobs/${arabic.body.id as string}?wait=30`, { token: operator })
  t.equal(arabicDone.body.state, 'printed', 'Arabic job reported printed')
  const [, second] = await printer.waitForTickets(2, 10_000)
  t.match(second?.text ?? '', /arabic-ticket/)
  t.ok(second?.bytes.includes(Buffer.from([0x1d, 0x76, 0x30])), 'the Arabic line arrived as a raster image (GS v 0)')

  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'stops cleanly on SIGTERM')
  t.match(log, /"msg":"agent stopped"/)
})
