/**
 * Routes what the server receives over MQTT: job results to the job service, health to
 * agent presence (a newly online agent gets its config and pending jobs again), printer
 * status to the printer status store, discovery reports to the discovery service.
 * Every payload is validated; a bad one is logged and dropped.
 */
import type { Logger } from '../../shared/logger.js'
import { decodeMessage, InvalidMessageError, type JobResultMessage } from '../../shared/messages.js'
import { parseTopic } from '../../shared/topics.js'
import type { AgentRef } from '../../shared/ids.js'
import type { AgentPresence } from '../agents/agent-presence.js'
import type { PrinterStatusStore } from '../agents/printer-status-store.js'
import type { DiscoveryService } from '../discovery/discovery-service.js'
import type { JobService } from '../jobs/job-service.js'
import { isDatabaseUnavailable } from '../db/unavailable.js'

/**
 * An agent's health says when it was sent (after it subscribed). When its clock agrees
 * with ours within this tolerance that instant marks the start of its live session;
 * otherwise the time we received the message does.
 */
const CLOCK_TOLERANCE_MS = 2000

/** Retry delays for a job result the database could not take (down, timeout); ms. */
const RESULT_RETRY_MS = { first: 500, max: 10_000, giveUpAfter: 15 * 60_000 } as const

/** What the router hands work to. */
export interface InboundRouterOptions {
  readonly jobs: JobService
  readonly presence: AgentPresence
  readonly printerStatus: PrinterStatusStore
  /** Stores discovery reports. */
  readonly discovery: Pick<DiscoveryService, 'applyReport'>
  /** Called when an agent starts a new online session. */
  readonly onAgentOnline: (ref: AgentRef, onlineAt: Date) => Promise<void>
  readonly logger: Logger
}

/** Build the handler for the service client's messages. */
export function createInboundRouter (options: InboundRouterOptions): (topic: string, payload: Buffer, retained: boolean) => void {
  const log = options.logger.child({ component: 'api.inbound' })
  // Messages of one agent are handled one after another, in the order MQTT delivered
  // them. Job results are the exception: each is queued for the job service's group
  // commit at once, in delivery order, which is the order they are applied in, so
  // `accepted` is not applied after `printed` of the same job, and neither waits for
  // the other's commit: an `accepted` may wait up to ACCEPTED_RESULT_LINGER_MS for its
  // job's `printed` and go in the same statement (docs/performance.md). One exception:
  // when the database was unreachable, a result retried later (below) may come after
  // its job's next result; the job's state stays right (states only move forward) and
  // the late `accepted` is recorded as ignored in its history.
  const chains = new Map<string, Promise<void>>()
  const inOrder = (key: string, work: () => Promise<void>): void => {
    const next = (chains.get(key) ?? Promise.resolve()).then(work)
    chains.set(key, next)
    void next.finally(() => { if (chains.get(key) === next) chains.delete(key) })
  }
  /**
   * A result is acknowledged to the agent as soon as the broker has it, so it must not be
   * dropped when the database is briefly unreachable: retry with backoff.
   */
  const applyResult = async (ref: AgentRef, result: JobResultMessage): Promise<void> => {
    const started = Date.now()
    for (let delay: number = RESULT_RETRY_MS.first; ; delay = Math.min(delay * 2, RESULT_RETRY_MS.max)) {
      try {
        await options.jobs.applyResult(ref, result)
        return
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() - started > RESULT_RETRY_MS.giveUpAfter) throw err
        log.warn({ err, jobId: result.jobId, correlationId: result.correlationId, retryInMs: delay }, 'job result not stored yet; retrying')
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }
  return (topic, payload) => {
    const parsed = parseTopic(topic)
    if (parsed === null) return
    const receivedAt = Date.now()
    if (parsed.kind === 'agent' && parsed.channel === 'results') {
      let result: JobResultMessage
      try {
        result = decodeMessage('job-result', payload)
      } catch (err) {
        log.warn({ topic, reason: (err as Error).message }, 'invalid message dropped')
        return
      }
      // JobService.applyResult queues the result before it returns its promise.
      applyResult(parsed.ref, result).catch((err: unknown) => { log.error({ err, topic }, 'inbound message failed') })
      return
    }
    const handle = async (): Promise<void> => {
      if (parsed.kind === 'agent' && parsed.channel === 'health') {
        if (payload.length === 0) return
        const health = decodeMessage('agent-health', payload)
        const change = options.presence.update(parsed.ref, health)
        if (change === 'came-online') {
          log.info({ agent: parsed.ref.agent, branch: parsed.ref.branch, tenant: parsed.ref.tenant, sessionId: health.sessionId }, 'agent online')
          const sentAt = Date.parse(health.sentAt)
          const onlineAt = Math.abs(receivedAt - sentAt) <= CLOCK_TOLERANCE_MS ? Math.min(sentAt, receivedAt) : receivedAt
          await options.onAgentOnline(parsed.ref, new Date(onlineAt))
        } else if (change === 'went-offline') {
          log.info({ agent: parsed.ref.agent, branch: parsed.ref.branch, tenant: parsed.ref.tenant }, 'agent offline')
        }
      } else if (parsed.kind === 'agent' && parsed.channel === 'discovered') {
        // The topic names the agent; the report cannot complete another agent's discovery.
        await options.discovery.applyReport(parsed.ref, decodeMessage('discovery-report', payload))
      } else if (parsed.kind === 'printer-status') {
        // An empty retained payload clears the topic; there is no status to keep.
        if (payload.length === 0) return
        const status = decodeMessage('printer-status', payload)
        if (status.printerId !== parsed.ref.printer) throw new InvalidMessageError('printer-status: printerId does not match the topic')
        options.printerStatus.update(parsed.ref, status)
      }
    }
    const key = parsed.kind === 'agent' ? `${parsed.ref.tenant}/${parsed.ref.branch}/${parsed.ref.agent}` : topic
    inOrder(key, async () => {
      await handle().catch((err: unknown) => {
        if (err instanceof InvalidMessageError) log.warn({ topic, reason: err.message }, 'invalid message dropped')
        else log.error({ err, topic }, 'inbound message failed')
      })
    })
  }
}
