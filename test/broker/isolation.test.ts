/**
 * Tenant isolation against hostile clients (issue 3): every case generated from the
 * issue's lists is tried by an agent, a technician and an unauthenticated client over
 * raw sockets; each must be refused, and after each one a legitimate agent still
 * connects and receives a job.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { mintToken } from '../../api/auth/tokens.js'
import { TECHNICIAN_USERNAME } from '../../broker/authenticator.js'
import type { AgentRef } from '../../shared/ids.js'
import { clientIdCases, publishCases, subscribeCases, willCases, type Actor, type HostileCase, type Victim } from './helpers/hostile-cases.js'
import { tryCase, type Login } from './helpers/hostile-runner.js'
import { startIsolationWorld, type IsolationWorld } from './helpers/isolation-world.js'

const world = await startIsolationWorld(t)
const victim = (label: string, name: keyof IsolationWorld['agents']): Victim => {
  const agent = world.agents[name]
  return { label, ref: agent.ref, printer: agent.printers[0] as string }
}
const sameBranch = victim('an agent of the same branch', 'sameBranch')
const canary = victim('the canary agent', 'canary')
const otherBranch = victim('an agent of another branch', 'otherBranch')
const otherTenant = victim('the agent with the same ids in another tenant', 'otherTenant')
const hostileRef: AgentRef = world.agents.hostile.ref

/** The cases each actor tries. The technician reads its own branch legitimately, so its victims are outside it. */
function casesFor (actor: Actor): HostileCase[] {
  const all = [sameBranch, canary, otherBranch, otherTenant]
  if (actor === 'agent') {
    return [
      ...clientIdCases(all, hostileRef),
      ...subscribeCases(all, hostileRef),
      ...publishCases(all, { ref: hostileRef, printer: 'p1', foreignPrinter: 'p2' }),
      ...willCases(all, hostileRef)
    ]
  }
  if (actor === 'technician') {
    return [
      ...clientIdCases(all, null),
      ...subscribeCases([otherBranch, otherTenant], null),
      // Technicians never publish, not even inside their own branch.
      ...publishCases(all, { ref: hostileRef, printer: 'p1', foreignPrinter: 'p2' }),
      ...willCases(all, hostileRef)
    ]
  }
  return [...clientIdCases(all, hostileRef), ...subscribeCases(all, hostileRef), ...publishCases(all, { ref: hostileRef, printer: 'p1', foreignPrinter: 'p2' }), ...willCases(all, hostileRef)]
}

const technicianToken = world.technicianToken('acme', ['b1'])
const agentLogin = world.agentLogin('hostile')
/** Logins an unauthenticated client cycles through: none, partial, forged, wrong role, expired, foreign key. */
const anonymousLogins: Login[] = [
  { clientId: 'anon-1', clean: true },
  { clientId: 'anon-2', clean: true, username: TECHNICIAN_USERNAME },
  { clientId: 'anon-3', clean: true, username: TECHNICIAN_USERNAME, password: 'not.a.jwt' },
  { clientId: 'anon-4', clean: true, username: agentLogin.username, password: world.agents.sameBranch.licenseKey },
  { clientId: 'printmq.anon', clean: true, username: 'printmq-service', password: 'guess' },
  { clientId: 'anon-6', clean: true, username: TECHNICIAN_USERNAME, password: mintToken(world.secret, { tenant: 'acme', role: 'admin', subject: 'x', ttlSeconds: 60 }) },
  { clientId: 'anon-7', clean: true, username: TECHNICIAN_USERNAME, password: mintToken(world.secret, { tenant: 'acme', role: 'technician', subject: 'x', ttlSeconds: -60 }) },
  { clientId: 'anon-8', clean: true, username: TECHNICIAN_USERNAME, password: mintToken(randomBytes(32).toString('base64url'), { tenant: 'acme', role: 'technician', subject: 'x', ttlSeconds: 60 }) }
]

function loginOf (actor: Actor, index: number): Login {
  switch (actor) {
    case 'agent': return { ...agentLogin, clean: true }
    case 'technician': return { clientId: 'tech-1', clean: true, username: TECHNICIAN_USERNAME, password: technicianToken }
    case 'anonymous': return anonymousLogins[index % anonymousLogins.length] as Login
  }
}

let total = 0
for (const actor of ['agent', 'technician', 'anonymous'] as const) {
  await t.test(`every hostile case of ${actor === 'anonymous' ? 'an unauthenticated client' : `a${actor === 'agent' ? 'n' : ''} ${actor}`} is refused and the canary still gets its jobs`, async (t) => {
    const cases = casesFor(actor)
    let index = 0
    for (const c of cases) {
      const outcome = await tryCase(world, c, loginOf(actor, index++), actor !== 'anonymous')
      t.equal(outcome, 'refused', `${actor}: ${c.name}`)
      t.ok(await world.canaryReceivesJob(), `after "${c.name}" a legitimate agent connects and receives a job`)
    }
    total += cases.length
    t.comment(`${actor}: ${cases.length} hostile cases refused`)
  })
}

t.test('the legitimate logins used above are accepted, so the refusals are not a broken setup', async (t) => {
  const { RawClient, rawConnack } = await import('./helpers/raw-client.js')
  for (const actor of ['agent', 'technician'] as const) {
    const client = await RawClient.open(world.port)
    t.equal(await rawConnack(client, loginOf(actor, 0)), 0, actor)
    client.destroy()
  }
})

t.test('the runner reports legitimate actions as not refused, so it can tell a hole from a refusal', async (t) => {
  const { encodeMessage } = await import('../../shared/messages.js')
  const { agentTopic } = await import('../../shared/topics.js')
  const login = loginOf('agent', 0)
  t.not(await tryCase(world, { kind: 'client-id', name: 'own id', clientId: agentLogin.clientId, clean: true }, login, true), 'refused')
  t.not(await tryCase(world, { kind: 'subscribe', name: 'own jobs', filter: agentTopic(hostileRef, 'jobs'), qos: 1 }, login, true), 'refused')
  const health = encodeMessage('agent-health', 'legit', { sessionId: 'legit', online: true })
  t.not(await tryCase(world, { kind: 'publish', name: 'own health', topic: agentTopic(hostileRef, 'health'), payload: health, retain: true, qos: 1 }, login, true), 'refused')
  t.not(await tryCase(world, { kind: 'subscribe', name: 'own branch', filter: 'printmq/v1/acme/b1/#', qos: 0 }, loginOf('technician', 0), true), 'refused')
})

t.test('the suite runs several hundred hostile cases', async (t) => {
  t.comment(`hostile cases: ${total} (agent, technician and unauthenticated client), all refused`)
  t.ok(total >= 300)
})
