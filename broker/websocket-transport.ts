/**
 * MQTT over WebSocket on the HTTP server (design §2): upgrades on one path (`/mqtt`)
 * become MQTT connections of the broker. The client must offer the `mqtt` subprotocol
 * [MQTT-6.0.0-3] (`mqttv3.1` is accepted for old clients); frames larger than
 * `maxPayloadBytes` close the socket before they are buffered in full.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { Logger } from '../shared/logger.js'

/** Path MQTT over WebSocket is served at. */
export const MQTT_WEBSOCKET_PATH = '/mqtt'
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1']

/** Options of {@link attachMqttWebSocket}. */
export interface MqttWebSocketOptions {
  /** Hands a connection to the broker ({@link PrintmqBroker.handleConnection}). */
  readonly handle: (stream: Duplex, request: IncomingMessage) => void
  /** Largest WebSocket message, in bytes. */
  readonly maxPayloadBytes: number
  readonly logger: Logger
  readonly path?: string
}

/** Serve MQTT over WebSocket on `server`; returns a function that stops it and closes its sockets. */
export function attachMqttWebSocket (server: HttpServer, options: MqttWebSocketOptions): () => Promise<void> {
  const path = options.path ?? MQTT_WEBSOCKET_PATH
  const log = options.logger.child({ component: 'broker.ws' })
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: false,
    handleProtocols: (protocols) => SUBPROTOCOLS.find((p) => protocols.has(p)) ?? false
  })
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let pathname: string
    try { pathname = new URL(request.url ?? '/', 'http://localhost').pathname } catch { pathname = '' }
    if (pathname !== path) {
      // Nobody else serves upgrades on this server: answer instead of leaving the socket open.
      if (server.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    if (!offered.some((p) => SUBPROTOCOLS.includes(p))) {
      log.info({ remoteAddress: request.socket.remoteAddress }, 'websocket refused: no mqtt subprotocol')
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', (err) => { log.debug({ err: err.message }, 'websocket error') })
      const stream = createWebSocketStream(ws)
      Object.defineProperty(stream, 'remoteAddress', { value: request.socket.remoteAddress })
      stream.on('error', () => {})
      options.handle(stream, request)
    })
  }
  server.on('upgrade', onUpgrade)
  return async () => {
    server.off('upgrade', onUpgrade)
    for (const ws of wss.clients) ws.terminate()
    await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
  }
}
