/**
 * `GET /v1/events`: Server-Sent Events of job state changes, printer status and agent
 * health in the caller's scope (tenant, the token's branches, optional filters).
 * A comment line every `heartbeatMs` keeps proxies from closing an idle stream.
 * `Last-Event-ID` replays what the client missed while it is in the kept window;
 * otherwise the stream starts with a `resync` event: re-read state over REST.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { OutgoingHttpHeaders } from 'node:http'
import Type from 'typebox'
import { requireRole } from '../auth/authenticate.js'
import { canAccessBranch, type AuthContext } from '../auth/claims.js'
import { EVENT_TYPES, type EventType, type LiveEvent } from '../events/event-log.js'
import type { EventHub } from '../events/event-hub.js'
import { BranchNotFoundError } from '../errors.js'
import { errorResponses, Id } from '../schemas.js'

/** Options of {@link eventRoutes}. */
export interface EventRoutesOptions {
  readonly hub: EventHub
  /** Milliseconds between heartbeat comments. */
  readonly heartbeatMs: number
}

/** A client that reads slower than this many buffered bytes is disconnected. */
const MAX_BUFFERED_BYTES = 1024 * 1024
/** Milliseconds a browser waits before reconnecting (the SSE `retry` field). */
const RETRY_MS = 2000

const Query = Type.Object({
  types: Type.Optional(Type.String({ pattern: `^(${EVENT_TYPES.join('|')})(,(${EVENT_TYPES.join('|')}))*$`, description: 'comma-separated: job, printer, agent (default all)' })),
  branchId: Type.Optional(Id)
}, { additionalProperties: false })

/** The live events route; ends its open streams when the app closes. */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, options) => {
  const open = new Set<() => void>()
  // Hijacked streams are not closed by the server; end them before it waits for connections.
  app.addHook('preClose', async () => { for (const close of [...open]) close() })

  app.get('/v1/events', {
    onRequest: requireRole('admin', 'operator', 'technician'),
    schema: {
      tags: ['events'],
      security: [{ bearerAuth: [] }],
      summary: 'live events (text/event-stream)',
      querystring: Query,
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64 })) }),
      response: { 200: { description: 'an endless text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errorResponses(400, 401, 404) }
    }
  }, async (request, reply) => {
    const { auth } = request
    const types = new Set<EventType>((request.query.types?.split(',') ?? EVENT_TYPES) as EventType[])
    const branchId = request.query.branchId
    // Like every branch-scoped route: a branch outside the token is unknown, not forbidden.
    if (branchId !== undefined && !canAccessBranch(auth, branchId)) throw new BranchNotFoundError(branchId)
    const visible = (event: LiveEvent): boolean => inScope(auth, event) && types.has(event.type) && (branchId === undefined || event.branch === branchId)

    const raw = reply.raw
    reply.hijack()
    raw.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx: do not buffer the stream.
      'x-accel-buffering': 'no'
    })
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      unsubscribe()
      open.delete(close)
      raw.end()
    }
    const write = (chunk: string): void => {
      if (closed) return
      raw.write(chunk)
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        request.log.warn('event stream client too slow: closing')
        close()
      }
    }
    const send = (event: LiveEvent): void => {
      if (visible(event)) write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`)
    }

    write(`retry: ${RETRY_MS}\n\n`)
    // Subscribe before replaying, buffering live events, so none falls between the two.
    const live: LiveEvent[] = []
    let replaying = true
    const unsubscribe = options.hub.subscribe((event) => { if (replaying) live.push(event); else send(event) })
    const heartbeat = setInterval(() => { write(': heartbeat\n\n') }, options.heartbeatMs)
    open.add(close)
    raw.on('close', close)

    const lastEventId = request.headers['last-event-id']
    let lastSeq = 0
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      const missed = options.hub.replay(lastEventId)
      if (missed === null) {
        write(`event: resync\ndata: ${JSON.stringify({ reason: 'Last-Event-ID is outside the replay window; re-read current state' })}\n\n`)
      } else {
        for (const event of missed) send(event)
        lastSeq = missed.at(-1)?.seq ?? lastSeq
      }
    }
    replaying = false
    for (const event of live) if (event.seq > lastSeq) send(event)
    request.log.info({ types: [...types], branchId, resumed: lastEventId !== undefined }, 'event stream opened')
  })
}

function inScope (auth: AuthContext, event: LiveEvent): boolean {
  return event.tenant === auth.tenant && canAccessBranch(auth, event.branch)
}
