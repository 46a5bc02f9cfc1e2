/**
 * Technicians with the real mosquitto_sub and mosquitto_pub (Debian's mosquitto-clients):
 * a JWT as the password, read-only inside their tenant (or branches), retained health
 * and printer status shown at once, publishes refused, other tenants invisible.
 */
import { execFile } from 'node:child_process'
import mqtt from 'mqtt'
import t from 'tap'
import { startIsolationWorld } from './helpers/isolation-world.js'

const world = await startIsolationWorld(t)
const host = ['-h', '127.0.0.1', '-p', String(world.port)]

/** Run a mosquitto client; resolves with its exit code and output (never rejects). */
async function mosquitto (command: 'mosquitto_sub' | 'mosquitto_pub', args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

t.test('mosquitto_sub with a technician token shows the tenant retained health and printer status', async (t) => {
  const token = world.technicianToken('acme')
  // acme has four agents, each with retained health, config and one printer status: 12 messages.
  const { code, stdout } = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/acme/#', '-v', '-C', '12', '-W', '15'])
  t.equal(code, 0)
  const topics = stdout.trim().split('\n').map((line) => line.split(' ')[0])
  t.ok(topics.includes('printmq/v1/acme/b1/agents/a1/health'))
  t.ok(topics.includes('printmq/v1/acme/b2/agents/a3/health'))
  t.ok(topics.includes('printmq/v1/acme/b1/printers/p1/status'))
  t.ok(topics.includes('printmq/v1/acme/b2/printers/p3/status'))
  t.ok(topics.every((topic) => topic?.startsWith('printmq/v1/acme/')), 'nothing of another tenant')
})

t.test('a technician limited to a branch sees that branch only', async (t) => {
  const token = world.technicianToken('acme', ['b2'])
  const ok = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/acme/b2/#', '-v', '-C', '3', '-W', '15'])
  t.equal(ok.code, 0)
  t.ok(ok.stdout.trim().split('\n').every((line) => line.startsWith('printmq/v1/acme/b2/')))
  const denied = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/acme/#', '-v', '-W', '15'])
  // mosquitto_sub exits with 0 after "All subscription requests were denied."
  t.match(denied.stderr, /denied/i, 'the tenant-wide filter is denied')
  t.equal(denied.stdout, '')
})

t.test('mosquitto_pub as a technician is refused and nothing is routed', async (t) => {
  const token = world.technicianToken('acme')
  const message = `{"forged":"${Date.now()}"}`
  const topic = 'printmq/v1/acme/b1/agents/a1/jobs'
  await mosquitto('mosquitto_pub', [...host, '-u', 'technician', '-P', token, '-t', topic, '-m', message, '-q', '1'])
  await world.settle()
  t.notOk(world.seen.some((m) => m.topic === topic && m.payload.toString() === message), 'the broker dropped the publish')
})

t.test('a token of another tenant sees nothing of this one', async (t) => {
  const token = world.technicianToken('globex')
  const denied = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/acme/#', '-t', '#', '-v', '-W', '15'])
  t.match(denied.stderr, /denied/i)
  t.equal(denied.stdout, '', 'no message of acme')
  const own = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/+/#', '-t', 'printmq/v1/globex/#', '-v', '-C', '3', '-W', '15'])
  t.equal(own.code, 0, 'its own tenant is readable')
  t.ok(own.stdout.trim().split('\n').every((line) => line.startsWith('printmq/v1/globex/')))
})

t.test('technicians cannot keep a persistent session, and other roles cannot log in', async (t) => {
  const persistent = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', world.technicianToken('acme'), '-c', '-i', 'tech-persistent', '-t', 'printmq/v1/acme/#', '-W', '15'])
  t.not(persistent.code, 0)
  t.match(persistent.stderr, /identifier rejected/i)
  const { mintToken } = await import('../../api/auth/tokens.js')
  const admin = mintToken(world.secret, { tenant: 'acme', role: 'admin', subject: 'x', ttlSeconds: 60 })
  const refused = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', admin, '-t', 'printmq/v1/acme/#', '-W', '15'])
  t.not(refused.code, 0)
  t.match(refused.stderr, /not authori[sz]ed/i)
})

t.test('a technician session ends when its token expires', async (t) => {
  const token = world.technicianToken('acme', undefined, 2)
  const client = mqtt.connect(`mqtt://127.0.0.1:${world.port}`, { username: 'technician', password: token, reconnectPeriod: 0, connectTimeout: 10_000 })
  t.teardown(() => { client.end(true) })
  await new Promise<void>((resolve, reject) => { client.once('connect', () => { resolve() }); client.once('error', reject) })
  await client.subscribeAsync('printmq/v1/acme/#', { qos: 0 })
  const connectedAt = Date.now()
  const closed = new Promise<void>((resolve) => { client.once('close', () => { resolve() }) })
  const bound = new Promise<'still connected'>((resolve) => { setTimeout(() => { resolve('still connected') }, 15_000).unref() })
  const outcome = await Promise.race([closed.then(() => 'closed' as const), bound])
  t.equal(outcome, 'closed', 'the broker closed the connection')
  // The token had at most 2 s left at login; mintToken rounds exp down to whole seconds.
  t.ok(Date.now() - connectedAt < 15_000)
  const again = await mosquitto('mosquitto_sub', [...host, '-u', 'technician', '-P', token, '-t', 'printmq/v1/acme/#', '-W', '5'])
  t.not(again.code, 0, 'the expired token cannot log in again')
})
