import t from 'tap'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { formatReport, runAgentCheck } from '../../agent/check.js'
import { loadAgentConfig } from '../../agent/config.js'
import { createTransportFactory } from '../../agent/printers/transport.js'
import { createLicenseKey } from '../../shared/license.js'
import { VirtualPrinter } from '../../virtual-printer/virtual-printer.js'
import { connectObserver, startBroker, tcpPrinter } from './helpers/mqtt-fixture.js'

const ref = { tenant: 'acme', branch: 'downtown', agent: 'counter' }
const license = createLicenseKey(ref)
const transports = createTransportFactory({ timeouts: { connectMs: 500 } })
const config = (url: string): ReturnType<typeof loadAgentConfig> => loadAgentConfig({ url, 'status-timeout': '200' }, { PRINTMQ_LICENSE: license })

t.test('the check passes with a reachable broker, a config and ready printers', async (t) => {
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter()
  await printer.start()
  t.teardown(() => printer.stop())
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', printer.port)])
  const report = await runAgentCheck(config(url), { transports, timeoutMs: 2000 })
  t.equal(report.problems, 0, formatReport(report))
  t.match(formatReport(report), /ok +printer kitchen \(epson, tcp 127\.0\.0\.1:\d+\) +ready\nall checks passed$/)
})

t.test('the check reports each printer that cannot print and the count of problems', async (t) => {
  const { url } = await startBroker(t)
  const printer = new VirtualPrinter({ status: { paperOut: true } })
  await printer.start()
  t.teardown(() => printer.stop())
  const closed = await closedPort()
  const observer = await connectObserver(t, url, ref)
  await observer.publishConfig([tcpPrinter('kitchen', printer.port), tcpPrinter('bar', closed)])
  const report = await runAgentCheck(config(url), { transports, timeoutMs: 2000 })
  t.equal(report.problems, 2)
  const text = formatReport(report)
  t.match(text, /FAIL +printer kitchen .* paper-out/)
  t.match(text, /FAIL +printer bar .* offline: cannot connect/)
  t.match(text, /2 problems found$/)
})

t.test('the check tells an unreachable broker from a refused license', async (t) => {
  const closed = await closedPort()
  const unreachable = await runAgentCheck(config(`mqtt://127.0.0.1:${closed}`), { transports, timeoutMs: 1000 })
  t.match(formatReport(unreachable), /FAIL +broker mqtt:\/\/127\.0\.0\.1:\d+ +not reachable/)

  const broker = await Aedes.createBroker({
    authenticate: (_client, _username, _password, done) => { done(Object.assign(new Error('revoked'), { returnCode: 4 }), false) }
  })
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
  })
  const refused = await runAgentCheck(config(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`), { transports, timeoutMs: 1000 })
  t.equal(refused.problems, 1)
  t.match(formatReport(refused), /FAIL +license acme\/downtown\/counter +refused by the broker \(CONNACK 4\)/)
})

t.test('the check reports a missing config', async (t) => {
  const { url } = await startBroker(t)
  const report = await runAgentCheck(config(url), { transports, timeoutMs: 200 })
  t.match(formatReport(report), /FAIL +config +no printer config within 200 ms: printmq's server publishes it when the agent logs in or comes online/)
})

/** A port nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}
