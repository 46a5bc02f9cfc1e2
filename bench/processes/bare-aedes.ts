/**
 * A bare Aedes broker (same version as printmq's, no authentication, no ACL, no packet
 * guard), for the broker benchmark's reference row: what printmq's own layers add.
 * Prints `{"port":N}` on standard output when listening.
 */
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'

const aedes = await Aedes.createBroker({})
const server = createServer((socket) => { aedes.handle(socket) })
await new Promise<void>((resolve) => { server.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT ?? '0'), backlog: 4096 }, resolve) })
process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n')
const stop = (): void => { server.close(); aedes.close(() => { process.exit(0) }) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
