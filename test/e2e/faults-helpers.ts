/**
 * Helpers of the fault suites: a TCP proxy that can cut a server off from PostgreSQL,
 * and a stream of idempotent job submissions that remembers every outcome.
 */
import { createServer, type AddressInfo, type Server, type Socket, connect } from 'node:net'
import type { Test } from 'tap'

/** A TCP proxy to `target`; `cut()` drops every connection and refuses new ones. */
export interface CuttableProxy {
  readonly port: number
  cut (): Promise<void>
  restore (): Promise<void>
}

/** Start a proxy on 127.0.0.1 (a free port) to `host:port`; closed at `t`'s teardown. */
export async function startProxy (t: Test, host: string, port: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>()
  const make = (): Server => createServer((client) => {
    const upstream = connect(port, host)
    sockets.add(client); sockets.add(upstream)
    client.pipe(upstream); upstream.pipe(client)
    const close = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', close); upstream.on('error', close); client.on('close', close); upstream.on('close', close)
  })
  let server: Server | null = make()
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const proxyPort = (server.address() as AddressInfo).port
  const cut = async (): Promise<void> => {
    const closing = server
    server = null
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (closing !== null) await new Promise<void>((resolve) => closing.close(() => { resolve() }))
  }
  t.teardown(cut)
  return {
    port: proxyPort,
    cut,
    restore: async () => {
      if (server !== null) return
      const next = make()
      await new Promise<void>((resolve, reject) => { next.once('error', reject); next.listen(proxyPort, '127.0.0.1', resolve) })
      server = next
    }
  }
}

/** What became of one submission attempt. */
export type Attempt =
  | { readonly kind: 'accepted', readonly jobId: string }
  | { readonly kind: 'refused', readonly status: number, readonly code: string, readonly retryAfter: string | null }
  | { readonly kind: 'no-answer', readonly error: string }

/** POST one job with an Idempotency-Key to `httpUrl`. */
export async function submitJob (httpUrl: string, token: string, key: string, body: unknown): Promise<Attempt> {
  try {
    const response = await fetch(`${httpUrl}/v1/print-jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000)
    })
    const json = await response.json() as { id?: string, code?: string }
    if (response.status === 202 && json.id !== undefined) return { kind: 'accepted', jobId: json.id }
    return { kind: 'refused', status: response.status, code: json.code ?? '', retryAfter: response.headers.get('retry-after') }
  } catch (err) {
    return { kind: 'no-answer', error: (err as Error).message }
  }
}
