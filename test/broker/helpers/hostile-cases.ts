/**
 * The hostile cases of the isolation suite, generated from the lists in issue 3:
 * client ids, subscriptions, publishes and Wills. Each case names what it tries; the
 * runner (isolation.test.ts) tries each as an agent, a technician and an unauthenticated
 * client. Payloads are valid messages of the topic's kind, so what refuses them is the
 * access control, not the schema check.
 */
import type { AgentRef } from '../../../shared/ids.js'
import { newId } from '../../../shared/ids.js'
import { agentMqttIdentity } from '../../../shared/license.js'
import { encodeMessage } from '../../../shared/messages.js'
import { AGENT_CHANNELS, agentTopic, printerStatusTopic } from '../../../shared/topics.js'

/** Who tries a case. */
export type Actor = 'agent' | 'technician' | 'anonymous'

/** One hostile attempt. */
export type HostileCase =
  | { readonly kind: 'client-id', readonly name: string, readonly clientId: Buffer | string, readonly clean: boolean }
  | { readonly kind: 'subscribe', readonly name: string, readonly filter: string, readonly qos: 0 | 1 | 2 }
  | { readonly kind: 'publish', readonly name: string, readonly topic: string, readonly payload: Buffer, readonly retain: boolean, readonly qos: 0 | 1 }
  | { readonly kind: 'will', readonly name: string, readonly topic: string, readonly payload: Buffer, readonly retain: boolean, readonly qos: 0 | 1 }

/** A victim: an agent and one of its printers. */
export interface Victim { readonly label: string, readonly ref: AgentRef, readonly printer: string }

let counter = 0
function marker (): string { return `hostile-${++counter}` }

/** Client ids no identity may use (or, with `clean: false`, the empty id). */
export function clientIdCases (victims: readonly Victim[], own: AgentRef | null): HostileCase[] {
  const ids: Array<[string, Buffer | string, boolean]> = [
    ['empty with a persistent session', '', false],
    ['a NUL byte', 'abc\u0000def', true],
    ['only a NUL byte', '\u0000', true],
    ['#', '#', true],
    ['+', '+', true],
    ['/', '/', true],
    ['a/b', 'a/b', true],
    ['$', '$', true],
    ['$SYS', '$SYS', true],
    ['__proto__', '__proto__', true],
    ['constructor', 'constructor', true],
    ['prototype', 'prototype', true],
    ['300 bytes', 'x'.repeat(300), true],
    ['257 bytes', 'y'.repeat(257), true],
    ['invalid UTF-8 (C3 28)', Buffer.from([0x61, 0xc3, 0x28, 0x62]), true],
    ['invalid UTF-8 (FF)', Buffer.from([0xff, 0xfe, 0xfd]), true],
    ['overlong UTF-8 (C0 AF)', Buffer.from([0xc0, 0xaf]), true],
    ['a UTF-16 surrogate (ED A0 80)', Buffer.from([0xed, 0xa0, 0x80]), true],
    ['white space', 'agent.acme.b1.a1 ', true],
    ['a full-width lookalike', '\uff41gent.acme.b1.a1', true],
    ['the server identity', 'printmq.server.main', true],
    ['a printmq. prefix', 'printmq.x', true],
    ['an agent. prefix', 'agent.x', true]
  ]
  for (const victim of victims) {
    const id = agentMqttIdentity(victim.ref).clientId
    ids.push([`the client id of ${victim.label}`, id, false], [`the client id of ${victim.label} (clean)`, id, true])
  }
  if (own !== null) ids.push(['its own client id in other letter case', agentMqttIdentity(own).clientId.toUpperCase(), false])
  return ids.map(([name, clientId, clean]) => ({ kind: 'client-id', name: `client id: ${name}`, clientId, clean }))
}

/** Filters outside the actor's scope; `own` adds the QoS-downgrade overlaps an agent could try. */
export function subscribeCases (victims: readonly Victim[], own: AgentRef | null): HostileCase[] {
  const filters: string[] = [
    '#', '+/#', '+', '+/+', 'printmq/#', 'printmq/v1/#', 'printmq/v1/+/#', 'printmq/+/+/#', 'printmq/v1/+/+/agents/+/jobs',
    'printmq/v1/+/+/printers/+/status', '/#', 'printmq//v1/#',
    '$SYS/#', '$SYS/+/clients/+', '$SYS', '$share/g/#', '$share/g/printmq/v1/+/+/agents/+/jobs', '$foo/#', '$',
    Array.from({ length: 101 }, (_, i) => `l${i}`).join('/'), Array.from({ length: 120 }, () => '+').join('/') + '/#',
    'printmq/v1/#/jobs', '#/#', 'printmq/v1/acme+/#', 'printmq/v1/a#', '++', 'printmq/v1/acme/b1/agents/+/jobs#', 'printmq/v1/\u0000/#'
  ]
  for (const v of victims) {
    const { tenant, branch, agent } = v.ref
    filters.push(
      `printmq/v1/${tenant}/#`, `printmq/v1/${tenant}/+/#`, `printmq/v1/${tenant}/${branch}/#`, `printmq/v1/${tenant}/${branch}/+/#`,
      `printmq/v1/${tenant}/${branch}/agents/#`, `printmq/v1/${tenant}/${branch}/agents/+/jobs`, `printmq/v1/${tenant}/${branch}/agents/${agent}/#`,
      `printmq/v1/${tenant}/${branch}/agents/${agent}/+`, `printmq/v1/${tenant}/${branch}/printers/+/status`,
      `$share/g/${agentTopic(v.ref, 'jobs')}`,
      ...AGENT_CHANNELS.map((c) => agentTopic(v.ref, c)),
      printerStatusTopic({ ...v.ref, printer: v.printer })
    )
  }
  const cases: HostileCase[] = []
  for (const filter of new Set(filters)) {
    for (const qos of [0, 1] as const) cases.push({ kind: 'subscribe', name: `subscribe ${JSON.stringify(filter)} at QoS ${qos}`, filter, qos })
  }
  if (own !== null) {
    // Overlapping filters would let the broker deliver jobs at the lower QoS of the other.
    for (const filter of [agentTopic(own, 'jobs'), agentTopic(own, 'config'), agentTopic(own, 'discovery')]) {
      cases.push({ kind: 'subscribe', name: `subscribe its own ${JSON.stringify(filter)} at QoS 0`, filter, qos: 0 })
    }
    const base = `printmq/v1/${own.tenant}/${own.branch}/agents/${own.agent}`
    for (const filter of [`${base}/+`, `${base}/#`, `printmq/v1/${own.tenant}/${own.branch}/agents/+/jobs`, `${base}/jobs/#`, agentTopic(own, 'results'), agentTopic(own, 'health'), agentTopic(own, 'discovered'),
      `printmq/v1/${own.tenant}/${own.branch}/agents/+/discovery`]) {
      for (const qos of [0, 1] as const) cases.push({ kind: 'subscribe', name: `subscribe overlapping ${JSON.stringify(filter)} at QoS ${qos}`, filter, qos })
    }
  }
  return cases
}

function result (printer: string): Buffer {
  return encodeMessage('job-result', marker(), { jobId: newId(), printerId: printer, state: 'printed', code: 200 })
}
function health (online: boolean): Buffer { return encodeMessage('agent-health', marker(), { sessionId: marker(), online }) }
function status (printer: string): Buffer { return encodeMessage('printer-status', marker(), { printerId: printer, sessionId: marker(), state: 'paper-out' }) }
function config (): Buffer { return encodeMessage('agent-config', marker(), { printers: [] }) }
function discoveryRequest (): Buffer {
  return encodeMessage('discovery-request', marker(), { discoveryId: newId(), serial: true, tcp: { hosts: ['10.0.0.1'], ports: [9100] }, timeoutMs: 1000, expiresAt: new Date(Date.now() + 60_000).toISOString() })
}
function discoveryReport (): Buffer {
  return encodeMessage('discovery-report', marker(), { discoveryId: newId(), serial: { method: 'skipped', ports: [] }, tcp: [{ host: '10.0.0.9', port: 9100, reachable: true, statusAnswered: true, state: 'ready' }], durationMs: 1 })
}
function job (printer: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'print-job', id: newId(), correlationId: marker(), sentAt: new Date().toISOString(), jobId: newId(), printerId: printer, content: { type: 'text', text: 'forged' }, copies: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() }))
}

/** Publishes an actor must not make. `own` adds the agent's own forbidden publishes. */
export function publishCases (victims: readonly Victim[], own: { ref: AgentRef, printer: string, foreignPrinter: string } | null): HostileCase[] {
  const attempts: Array<[string, string, () => Buffer, boolean]> = []
  for (const v of victims) {
    attempts.push(
      [`${v.label}'s results`, agentTopic(v.ref, 'results'), () => result(v.printer), false],
      [`${v.label}'s health`, agentTopic(v.ref, 'health'), () => health(false), true],
      [`${v.label}'s jobs`, agentTopic(v.ref, 'jobs'), () => job(v.printer), false],
      [`${v.label}'s config`, agentTopic(v.ref, 'config'), config, true],
      [`${v.label}'s printer status`, printerStatusTopic({ ...v.ref, printer: v.printer }), () => status(v.printer), true],
      [`an empty retained message deleting ${v.label}'s printer status`, printerStatusTopic({ ...v.ref, printer: v.printer }), () => Buffer.alloc(0), true],
      [`an empty retained message deleting ${v.label}'s health`, agentTopic(v.ref, 'health'), () => Buffer.alloc(0), true],
      [`an empty retained message deleting ${v.label}'s config`, agentTopic(v.ref, 'config'), () => Buffer.alloc(0), true],
      [`${v.label}'s discovery requests`, agentTopic(v.ref, 'discovery'), discoveryRequest, false],
      [`${v.label}'s discovery reports`, agentTopic(v.ref, 'discovered'), discoveryReport, false]
    )
  }
  if (own !== null) {
    const { ref, printer, foreignPrinter } = own
    attempts.push(
      ['its own jobs', agentTopic(ref, 'jobs'), () => job(printer), false],
      ['its own config', agentTopic(ref, 'config'), config, true],
      ['a printer it does not drive', printerStatusTopic({ ...ref, printer: foreignPrinter }), () => status(foreignPrinter), true],
      ['its printer with a payload naming another printer', printerStatusTopic({ ...ref, printer }), () => status(foreignPrinter), true],
      ['an empty retained message deleting its own printer status', printerStatusTopic({ ...ref, printer }), () => Buffer.alloc(0), true],
      ['an empty retained message deleting its own health', agentTopic(ref, 'health'), () => Buffer.alloc(0), true],
      ['its results retained', agentTopic(ref, 'results'), () => result(printer), true],
      ['its health not retained', agentTopic(ref, 'health'), () => health(true), false],
      ['its printer status not retained', printerStatusTopic({ ...ref, printer }), () => status(printer), false],
      ['its results with a payload of another kind', agentTopic(ref, 'results'), () => health(true), false],
      ['its results with a payload that is not JSON', agentTopic(ref, 'results'), () => Buffer.from('\u0000\u0001not json'), false],
      ['its own discovery requests', agentTopic(ref, 'discovery'), discoveryRequest, false],
      ['its discovery report retained', agentTopic(ref, 'discovered'), discoveryReport, true],
      ['its discovery reports with a payload of another kind', agentTopic(ref, 'discovered'), () => result(printer), false]
    )
  }
  const sys = ['$SYS/broker/clients/kick', '$SYS/x/clients/kick', '$SYS/aedes/new/clients', '$SYS/x/heartbeat', '$share/g/printmq/v1/acme/b1/agents/a1/results', '$foo']
  for (const topic of sys) attempts.push([topic, topic, () => result('p1'), false])
  for (const topic of ['printmq/v1/acme/+/agents/a1/results', 'printmq/v1/acme/b1/agents/a1/#', '#', 'printmq/v1/acme/b1/agents/a1/results/', '/printmq/v1/acme/b1/agents/a1/results', 'printmq/v1/acme/b1/agents/a1/results\u0000x']) {
    attempts.push([JSON.stringify(topic), topic, () => result('p1'), false])
  }
  const cases: HostileCase[] = []
  for (const [name, topic, payload, retain] of attempts) {
    for (const qos of [0, 1] as const) cases.push({ kind: 'publish', name: `publish to ${name} at QoS ${qos}`, topic, payload: payload(), retain, qos })
  }
  return cases
}

/** Wills outside the actor's own health topic (or unacceptable on it). */
export function willCases (victims: readonly Victim[], own: AgentRef | null): HostileCase[] {
  const wills: Array<[string, string, Buffer, boolean]> = []
  for (const v of victims) {
    wills.push(
      [`${v.label}'s health`, agentTopic(v.ref, 'health'), health(false), true],
      [`${v.label}'s results`, agentTopic(v.ref, 'results'), result(v.printer), false],
      [`${v.label}'s printer status`, printerStatusTopic({ ...v.ref, printer: v.printer }), status(v.printer), true]
    )
  }
  if (own !== null) {
    wills.push(
      ['its own results', agentTopic(own, 'results'), result('p1'), false],
      ['its own jobs', agentTopic(own, 'jobs'), job('p1'), false],
      ['its own health, empty (deleting it)', agentTopic(own, 'health'), Buffer.alloc(0), true],
      ['its own health, not retained', agentTopic(own, 'health'), health(false), false],
      ['its own discovery reports', agentTopic(own, 'discovered'), discoveryReport(), false]
    )
  }
  wills.push(['$SYS', '$SYS/x/clients/kick', health(false), false], ['a wildcard topic', 'printmq/v1/acme/#', health(false), true])
  return wills.map(([name, topic, payload, retain]) => ({ kind: 'will', name: `a Will on ${name}`, topic, payload, retain, qos: 1 }))
}
