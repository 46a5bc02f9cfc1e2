/** The live event hub without HTTP: coalescing per entity and the resumption window. */
import t from 'tap'
import { AgentPresence } from '../../api/agents/agent-presence.js'
import { PrinterStatusStore } from '../../api/agents/printer-status-store.js'
import { EventHub } from '../../api/events/event-hub.js'
import { EventLog, type LiveEvent } from '../../api/events/event-log.js'
import { JobChanges } from '../../api/jobs/job-changes.js'
import { createLogger } from '../../shared/logger.js'
import type { PrinterStatusMessage } from '../../shared/messages.js'

function status (printerId: string, state: PrinterStatusMessage['state']): PrinterStatusMessage {
  return { v: 1, kind: 'printer-status', id: `m-${state}`, correlationId: 'c', sentAt: new Date().toISOString(), printerId, sessionId: 's1', state }
}

t.test('several updates of one printer within the window become one event with the latest state', async (t) => {
  const printerStatus = new PrinterStatusStore()
  // Job changes are not used here, so no database is needed.
  const hub = new EventHub({ db: null as never, changes: new JobChanges(), presence: new AgentPresence(), printerStatus, logger: createLogger({ level: 'silent' }) })
  hub.start()
  t.teardown(() => { hub.stop() })
  const events: LiveEvent[] = []
  const sentinel = new Promise<void>((resolve) => {
    hub.subscribe((event) => { events.push(event); if (event.data.printerId === 'other') resolve() })
  })
  const ref = { tenant: 'acme', branch: 'b1', printer: 'p1' }
  printerStatus.update(ref, status('p1', 'ready'))
  printerStatus.update(ref, status('p1', 'paper-low'))
  printerStatus.update(ref, status('p1', 'paper-out'))
  // Queued after p1's window opened, so it is flushed after p1's event.
  printerStatus.update({ ...ref, printer: 'other' }, status('other', 'ready'))
  await sentinel
  t.same(events.map((e) => [e.data.printerId, e.data.state]), [['p1', 'paper-out'], ['other', 'ready']])
  t.match(events[0], { type: 'printer', tenant: 'acme', branch: 'b1' })
})

t.test('an agent health update is an event with its connection quality', async (t) => {
  const presence = new AgentPresence()
  const hub = new EventHub({ db: null as never, changes: new JobChanges(), presence, printerStatus: new PrinterStatusStore(), logger: createLogger({ level: 'silent' }), coalesceMs: 10 })
  hub.start()
  t.teardown(() => { hub.stop() })
  const next = new Promise<LiveEvent>((resolve) => { hub.subscribe(resolve) })
  presence.update({ tenant: 'acme', branch: 'b1', agent: 'a1' }, { v: 1, kind: 'agent-health', id: 'h', correlationId: 'c', sentAt: new Date().toISOString(), sessionId: 's', online: true, rttMs: 12, reconnects: 2 })
  t.match((await next).data, { agentId: 'a1', online: true, rttMs: 12, reconnects: 2 })
})

t.test('the event log replays after a kept id and reports a gap otherwise', async (t) => {
  const log = new EventLog(3)
  const ids = [1, 2, 3, 4, 5].map((n) => log.append({ type: 'printer', tenant: 't', branch: 'b', data: { n } }).id)
  t.same(log.after(ids[1] as string)?.map((e) => e.data.n), [3, 4, 5], 'after the 2nd: the 3 kept, nothing lost')
  t.same(log.after(ids[3] as string)?.map((e) => e.data.n), [5])
  t.same(log.after(ids[4] as string), [], 'up to date')
  t.equal(log.after(ids[0] as string), null, 'the 2nd was dropped: a gap')
  t.equal(log.after('00000000-2'), null, 'an id of another process')
  t.equal(log.after('garbage'), null)
  t.equal(log.after(`${(ids[0] as string).split('-')[0] as string}-99`), null, 'an id from the future')
})
