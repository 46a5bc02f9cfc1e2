/**
 * TCP probes over real sockets on 127.0.0.1: virtual printers answer DLE EOT, a closed
 * port refuses, a port that accepts but never answers is reachable without a status.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { probeTcp, probeTcpTargets, type TcpConnector } from '../../../agent/discovery/tcp-probe.js'
import type { PrinterTransport } from '../../../agent/printers/transport.js'
import { VirtualPrinter } from '../../../virtual-printer/virtual-printer.js'

async function startPrinter (t: Test, status: ConstructorParameters<typeof VirtualPrinter>[0] = {}): Promise<VirtualPrinter> {
  const printer = new VirtualPrinter(status)
  await printer.start()
  t.teardown(() => printer.stop())
  return printer
}

/** A server that accepts connections and never sends a byte. */
async function startSilentServer (t: Test): Promise<{ port: number, received: () => Buffer }> {
  const sockets = new Set<Socket>()
  const chunks: Buffer[] = []
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    socket.on('close', () => { sockets.delete(socket) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  return { port: (server.address() as AddressInfo).port, received: () => Buffer.concat(chunks) }
}

/** A port that was free a moment ago: nothing listens on it. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

t.test('a virtual printer answers the status request and its state is reported', async (t) => {
  const printer = await startPrinter(t)
  const result = await probeTcp({ host: '127.0.0.1', port: printer.port }, 1000)
  t.same(result, { host: '127.0.0.1', port: printer.port, reachable: true, statusAnswered: true, state: 'ready' })
  t.equal(printer.statusRequests, 3, 'DLE EOT 1, 2 and 4 were asked')
  t.equal(printer.tickets.length, 0, 'nothing was printed')
})

t.test('a printer out of paper is found with its state', async (t) => {
  const printer = await startPrinter(t, { status: { paperOut: true } })
  const result = await probeTcp({ host: '127.0.0.1', port: printer.port }, 1000)
  t.match(result, { reachable: true, statusAnswered: true, state: 'paper-out' })
})

t.test('a service that answers with text is not taken for a printer', async (t) => {
  // Like an HTTP server on the port: its answer holds bytes with a status byte's fixed
  // bits ('R' of "Request"), which must not count as a DLE EOT answer.
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.once('data', () => { socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n') })
    socket.on('close', () => { sockets.delete(socket) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  const port = (server.address() as AddressInfo).port
  const result = await probeTcp({ host: '127.0.0.1', port }, 1000)
  t.match(result, { reachable: true, statusAnswered: false, detail: /not ESC\/POS status/ })
  t.notOk('state' in result, 'no printer state')
})

t.test('a closed port is not reachable', async (t) => {
  const port = await closedPort()
  const result = await probeTcp({ host: '127.0.0.1', port }, 1000)
  t.match(result, { host: '127.0.0.1', port, reachable: false, statusAnswered: false })
  t.notOk('state' in result)
  t.match(result.detail, /ECONNREFUSED|cannot connect/)
})

t.test('a port that accepts but never answers is reachable without a status, and got only DLE EOT bytes', async (t) => {
  const silent = await startSilentServer(t)
  const result = await probeTcp({ host: '127.0.0.1', port: silent.port }, 200)
  t.match(result, { reachable: true, statusAnswered: false, detail: /no answer to DLE EOT 1 within 200 ms/ })
  t.same([...silent.received()], [0x10, 0x04, 0x01], 'the probe sent one status request and nothing that prints')
})

t.test('a silent virtual printer is reachable but does not answer', async (t) => {
  const printer = await startPrinter(t, { status: { silent: true } })
  const result = await probeTcp({ host: '127.0.0.1', port: printer.port }, 200)
  t.match(result, { reachable: true, statusAnswered: false })
})

t.test('several targets come back in the order asked', async (t) => {
  const ready = await startPrinter(t)
  const coverOpen = await startPrinter(t, { status: { coverOpen: true } })
  const closed = await closedPort()
  const silent = await startSilentServer(t)
  const targets = [ready.port, closed, silent.port, coverOpen.port].map((port) => ({ host: '127.0.0.1', port }))
  const results = await probeTcpTargets(targets, { timeoutMs: 300, concurrency: 2 })
  t.same(results.map((r) => r.port), targets.map((x) => x.port))
  t.same(results.map((r) => [r.reachable, r.statusAnswered, r.state]), [
    [true, true, 'ready'], [false, false, undefined], [true, false, undefined], [true, true, 'cover-open']
  ])
})

t.test('no more than `concurrency` probes are open at once', async (t) => {
  let open = 0
  let most = 0
  const connect: TcpConnector = (target) => ({
    address: `${target.host}:${target.port}`,
    isOpen: true,
    open: async () => {
      open++
      most = Math.max(most, open)
      // Stay open for a few turns of the event loop, so the workers' probes overlap.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    },
    write: async () => {},
    requestStatus: async () => 0x12,
    requestStatuses: async (requests) => requests.map(() => 0x12),
    close: async () => { open-- }
  })
  const targets = Array.from({ length: 10 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 9100 }))
  const results = await probeTcpTargets(targets, { timeoutMs: 100, concurrency: 3, connect })
  t.equal(results.length, 10)
  t.equal(most, 3, 'three probes ran side by side, never more')
  t.ok(results.every((r) => r.statusAnswered && r.state === 'ready'))
})

t.test('after an abort no further probe starts', async (t) => {
  const stop = new AbortController()
  let opened = 0
  const connect: TcpConnector = (target) => ({
    address: `${target.host}:${target.port}`,
    isOpen: true,
    open: async () => { opened++; stop.abort() },
    write: async () => {},
    requestStatus: async () => 0x12,
    requestStatuses: async (requests) => requests.map(() => 0x12),
    close: async () => {}
  })
  const targets = Array.from({ length: 5 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 9100 }))
  const results = await probeTcpTargets(targets, { timeoutMs: 100, concurrency: 1, connect, signal: stop.signal })
  t.equal(opened, 1)
  t.equal(results.length, 1)
})
