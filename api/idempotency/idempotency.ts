/**
 * Idempotent creating POSTs (IETF Idempotency-Key draft semantics), as a mechanism a
 * route opts into with `config: { idempotent: true }`:
 *
 * - no `Idempotency-Key`: the route runs as usual;
 * - a new key: the route runs inside one tenant transaction that also stores its 2xx
 *   response, so what it created and the record of it commit together or not at all;
 *   any other answer rolls everything back and is not remembered (a retry runs again);
 * - the same key and request again: the stored response (status, body, `Location`),
 *   with `Idempotent-Replayed: true`;
 * - the same key with another method, path or body: 422;
 * - the same key while the first request still runs: 409 (a transaction-scoped advisory
 *   lock on the key, so this holds across server instances and leaves nothing behind
 *   when a process dies).
 *
 * Keys are per tenant (row-level security) and kept `ttlSeconds` (default 24 h).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { findLiveRecord, purgeExpiredRecords, storeResponse, tryLockKey } from '../db/idempotency-repository.js'
import type { Database } from '../db/schema.js'
import { runInTenantTransaction, scopeTransaction, type SurroundingTransaction } from '../db/tenant-scope.js'
import { IdempotencyKeyInFlightError, IdempotencyKeyInvalidError, IdempotencyKeyReusedError, ServiceUnavailableError } from '../errors.js'
import { IDEMPOTENCY_HEADER, parseIdempotencyKey, REPLAYED_HEADER, requestFingerprint } from './idempotency-key.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour `Idempotency-Key` on this route (see api/idempotency/idempotency.ts). */
    idempotent?: boolean
  }
}

/** How long a key is remembered by default: 24 h, in seconds. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400

/** Options of {@link installIdempotency}. */
export interface IdempotencyOptions {
  readonly db: Kysely<Database>
  /** Seconds a key is remembered. */
  readonly ttlSeconds?: number
  /** How often expired records are deleted, ms. */
  readonly purgeIntervalMs?: number
}

/** Response headers stored and replayed besides the body. */
const KEPT_HEADERS = ['location', 'content-type'] as const

interface PendingRequest extends SurroundingTransaction {
  readonly key: string
  readonly fingerprint: string
  readonly trx: SurroundingTransaction['trx'] & { commit: () => { execute: () => Promise<void> }, rollback: () => { execute: () => Promise<void> } }
}

/** Install the mechanism on the root app, before the routes are registered. */
export function installIdempotency (app: FastifyInstance, options: IdempotencyOptions): void {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS
  const pending = new WeakMap<FastifyRequest, PendingRequest>()
  // Keys in flight in this process: answered 409 at once, without waiting for a
  // database connection (PGlite has one, held by the first request's transaction).
  const inFlight = new Set<string>()

  const finish = async (request: FastifyRequest, commit: boolean): Promise<void> => {
    const open = pending.get(request)
    if (open === undefined) return
    pending.delete(request)
    inFlight.delete(`${open.tenant}/${open.key}`)
    if (commit) {
      await open.trx.commit().execute()
      for (const callback of open.afterCommit) callback()
    } else {
      await open.trx.rollback().execute().catch((err: unknown) => { request.log.warn({ err }, 'idempotency rollback failed') })
    }
  }

  app.addHook('onRoute', (route) => {
    if (route.config?.idempotent !== true) return
    const handler = route.handler
    route.handler = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const open = pending.get(request)
      if (open === undefined) return await handler.call(this, request, reply)
      return await runInTenantTransaction(open, async () => await handler.call(this, request, reply))
    }
  })

  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.config.idempotent !== true) return
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (header === undefined) return
    const key = parseIdempotencyKey(header)
    if (key === null) throw new IdempotencyKeyInvalidError()
    const tenant = request.auth.tenant
    const fingerprint = requestFingerprint(request.method, request.url.split('?')[0] ?? '', request.body)
    const slot = `${tenant}/${key}`
    if (inFlight.has(slot)) throw new IdempotencyKeyInFlightError()
    inFlight.add(slot)
    let trx
    try {
      trx = await options.db.startTransaction().execute()
    } catch (err) {
      inFlight.delete(slot)
      throw err
    }
    try {
      await scopeTransaction(trx, tenant)
      if (!await tryLockKey(trx, tenant, key)) throw new IdempotencyKeyInFlightError()
      const stored = await findLiveRecord(trx, key)
      if (stored !== null) {
        await trx.rollback().execute()
        if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
        inFlight.delete(slot)
        request.log.info({ idempotencyKey: key }, 'idempotent request replayed')
        void reply.code(stored.status_code).headers({ ...stored.headers, [REPLAYED_HEADER]: 'true' })
        return await reply.send(stored.body)
      }
    } catch (err) {
      inFlight.delete(slot)
      if (!trx.isCommitted && !trx.isRolledBack) await trx.rollback().execute().catch(() => {})
      throw err
    }
    pending.set(request, { db: options.db, tenant, trx, afterCommit: [], key, fingerprint })
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const open = pending.get(request)
    if (open === undefined) return payload
    if (reply.statusCode < 200 || reply.statusCode >= 300) {
      await finish(request, false)
      return payload
    }
    try {
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
        const headers: Record<string, string> = {}
        for (const name of KEPT_HEADERS) {
          const value = reply.getHeader(name)
          if (value !== undefined) headers[name] = String(value)
        }
        const stored = await storeResponse(open.trx, {
          tenant: open.tenant,
          key: open.key,
          fingerprint: open.fingerprint,
          statusCode: reply.statusCode,
          headers,
          body: payload.toString(),
          expiresAt: new Date(Date.now() + ttlSeconds * 1000)
        })
        if (!stored) throw new IdempotencyKeyInFlightError()
      }
      await finish(request, true)
      return payload
    } catch (err) {
      await finish(request, false)
      const error = err instanceof IdempotencyKeyInFlightError ? err : new ServiceUnavailableError('database unreachable')
      request.log.warn({ err }, 'idempotent request not stored; nothing was created')
      void reply.code(error.statusCode).header('content-type', 'application/json; charset=utf-8').removeHeader('location')
      if (error.statusCode === 503) void reply.header('retry-after', '5')
      return JSON.stringify({ statusCode: error.statusCode, code: error.code, message: error.message })
    }
  })

  // A request that ends without a response (client gone) must not keep its transaction.
  app.addHook('onRequestAbort', async (request) => { await finish(request, false) })
  app.addHook('onResponse', async (request) => { await finish(request, false) })

  let timer: NodeJS.Timeout | null = null
  app.addHook('onReady', async () => {
    const purge = (): void => {
      purgeExpiredRecords(options.db, 1000).then((purged) => {
        if (purged > 0) app.log.info({ purged }, 'expired idempotency records deleted')
      }, (err: unknown) => { app.log.warn({ err }, 'idempotency purge failed') })
    }
    timer = setInterval(purge, options.purgeIntervalMs ?? 60_000)
    timer.unref()
  })
  app.addHook('onClose', async () => { if (timer !== null) clearInterval(timer) })
}
