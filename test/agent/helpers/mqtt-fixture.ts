/**
 * Test fixtures for agent tests: a real in-process Aedes broker without auth on
 * 127.0.0.1:0, an observer client that records what the agent publishes, and message
 * builders that go through shared/messages.ts like the server does.
 */
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Test } from 'tap'
import { newId, type AgentRef } from '../../../shared/ids.js'
import { createLogger, type Logger } from '../../../shared/logger.js'
import { decodeMessage, encodeMessage, type JobContent, type JobResultMessage, type PrinterConfig } from '../../../shared/messages.js'
import { agentTopic } from '../../../shared/topics.js'

/** A running broker. */
export interface BrokerFixture {
  readonly url: string
  readonly broker: Aedes
}

/** Start an Aedes broker on a free port; closed at teardown. */
export async function startBroker (t: Test): Promise<BrokerFixture> {
  const broker = await Aedes.createBroker()
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    await new Promise<void>((resolve) => { broker.close(() => { resolve() }) })
  })
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, broker }
}

/** A message the observer received. */
export interface Received {
  readonly topic: string
  readonly payload: Buffer
}

/** A client that plays the server's part: publishes jobs and config, records what arrives. */
export class Observer {
  readonly client: MqttClient
  readonly received: Received[] = []
  readonly #ref: AgentRef
  readonly #waiters = new Set<() => void>()

  constructor (client: MqttClient, ref: AgentRef) {
    this.client = client
    this.#ref = ref
    client.on('message', (topic, payload) => {
      this.received.push({ topic, payload })
      for (const waiter of this.#waiters) waiter()
    })
  }

  /** Every job result received so far. */
  get results (): JobResultMessage[] {
    const topic = agentTopic(this.#ref, 'results')
    return this.received.filter((m) => m.topic === topic).map((m) => decodeMessage('job-result', m.payload))
  }

  /** Publish the retained config naming `printers`. */
  async publishConfig (printers: PrinterConfig[]): Promise<void> {
    await this.client.publishAsync(agentTopic(this.#ref, 'config'), encodeMessage('agent-config', newId(), { printers }), { qos: 1, retain: true })
  }

  /** Publish a job (QoS 1), as the server's dispatcher does. */
  async publishJob (payload: Buffer): Promise<void> {
    await this.client.publishAsync(agentTopic(this.#ref, 'jobs'), payload, { qos: 1 })
  }

  /** Results of one job so far. */
  resultsOf (jobId: string): JobResultMessage[] {
    return this.results.filter((r) => r.jobId === jobId)
  }

  /** Resolves once `condition` returns a value other than undefined (checked on every message). */
  async waitFor<T> (condition: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const now = condition()
    if (now !== undefined) return now
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const value = condition()
        if (value === undefined) return
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve(value)
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`condition not met within ${timeoutMs} ms; received ${this.received.map((m) => m.payload.toString()).join('\n')}`))
      }, timeoutMs)
      this.#waiters.add(check)
    })
  }

  /** Resolves with the first result matching `predicate` (already received or to come). */
  async waitForResult (predicate: (result: JobResultMessage) => boolean, timeoutMs = 5000): Promise<JobResultMessage> {
    return await this.waitFor(() => this.results.find(predicate), timeoutMs)
  }

  /** Decoded messages of one kind received on `topic`. */
  messagesOn<K extends 'agent-health' | 'printer-status'> (topic: string, kind: K): Array<ReturnType<typeof decodeMessage<K>>> {
    return this.received.filter((m) => m.topic === topic && m.payload.length > 0).map((m) => decodeMessage(kind, m.payload))
  }
}

/** Connect an observer subscribed to the agent's results (and anything else given). */
export async function connectObserver (t: Test, url: string, ref: AgentRef, extraFilters: string[] = []): Promise<Observer> {
  const client = await connectAsync(url, { clientId: `observer-${newId()}`, protocolVersion: 4, reconnectPeriod: 0 })
  t.teardown(async () => { await client.endAsync(true) })
  const observer = new Observer(client, ref)
  await client.subscribeAsync([agentTopic(ref, 'results'), ...extraFilters], { qos: 1 })
  return observer
}

/** Options of {@link printJob}. */
export interface JobOptions {
  readonly jobId?: string
  readonly correlationId?: string
  readonly printerId?: string
  readonly text?: string
  /** Any document; overrides `text`. */
  readonly content?: JobContent
  readonly copies?: number
  /** Milliseconds from now; negative for an expired job. */
  readonly ttlMs?: number
}

/** A print-job payload plus the ids to assert on. */
export function printJob (options: JobOptions = {}): { payload: Buffer, jobId: string, correlationId: string } {
  const jobId = options.jobId ?? newId()
  const correlationId = options.correlationId ?? `order-${newId()}`
  const payload = encodeMessage('print-job', correlationId, {
    jobId,
    printerId: options.printerId ?? 'kitchen',
    content: options.content ?? { type: 'text', text: options.text ?? 'Table 4\n2x Soup' },
    copies: options.copies ?? 1,
    expiresAt: new Date(Date.now() + (options.ttlMs ?? 600_000)).toISOString()
  })
  return { payload, jobId, correlationId }
}

/** A printer config pointing at a local TCP port. */
export function tcpPrinter (id: string, port: number, model: PrinterConfig['model'] = 'epson'): PrinterConfig {
  return { id, model, connection: { type: 'tcp', host: '127.0.0.1', port }, width: 42 }
}

/** Logger for tests: silent unless PRINTMQ_TEST_LOG names a level. */
export function testLogger (): Logger {
  return createLogger({ level: process.env.PRINTMQ_TEST_LOG ?? 'silent' })
}
