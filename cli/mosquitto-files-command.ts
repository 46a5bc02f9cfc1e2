/**
 * `printmq mosquitto-files --out DIR`: write Mosquitto's password file and ACL file from
 * the database, for operators who run Mosquitto instead of the embedded broker.
 *
 * The database keeps only SHA-256 of each license key, and Mosquitto checks a PBKDF2 of
 * the password the client sends (the key), so an agent's password line can only be made
 * while its key is at hand: pass new or rotated keys with `--licenses FILE`. The command
 * remembers, next to the password file, which license hash each line was made for, and
 * keeps a line on later runs only while that license is still the agent's current,
 * unrevoked one; a rotated or revoked agent's line disappears on the next run.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { listLicensedAgents, listVisibleTenants } from '../api/db/agent-licenses-repository.js'
import { openDatabase } from '../api/db/database.js'
import { withTenant } from '../api/db/tenant-scope.js'
import { SERVICE_USERNAME } from '../broker/authenticator.js'
import { mosquittoAclFile, mosquittoPasswordLine, type AclTechnician } from '../broker/mosquitto-config.js'
import { ConfigError, loadServerConfig } from '../server/config.js'
import { isValidId } from '../shared/ids.js'
import { agentMqttIdentity, hashLicenseKey, parseLicenseKey } from '../shared/license.js'

const HELP = `usage: printmq mosquitto-files --out DIR [--licenses FILE] [--technician NAME:TENANT[:BRANCH,...]]... [--tenant T]... [--data-dir DIR]

Writes DIR/passwd and DIR/acl for Mosquitto (see mosquitto.conf.example) from the
database (DATABASE_URL, or PGlite under the data dir; the server must not hold PGlite open).

  --licenses FILE     license keys, one per line, of agents created or rotated since
                      the last run (Mosquitto needs the key itself; the database keeps
                      only its hash). Lines of agents whose license changed or was
                      revoked are dropped.
  --technician SPEC   a read-only account NAME for TENANT (or some of its branches);
                      its password is generated once into DIR/technician-passwords.
  --tenant T          only these tenants (default: every tenant the login can see).

The server's own account is PRINTMQ_MQTT_USERNAME (default ${SERVICE_USERNAME}) with
PRINTMQ_MQTT_PASSWORD (required). Reload Mosquitto afterwards (SIGHUP).`

/** What the password file's lines were made from, kept next to it. */
interface AgentLines { [username: string]: { licenseHash: string, line: string } }

export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      licenses: { type: 'string' },
      technician: { type: 'string', multiple: true },
      tenant: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(HELP); return }
  if (values.out === undefined) throw new ConfigError('--out', 'required: the directory to write passwd and acl into')
  const servicePassword = env.PRINTMQ_MQTT_PASSWORD ?? ''
  if (servicePassword === '') throw new ConfigError('PRINTMQ_MQTT_PASSWORD', 'required: the password of the server\'s own Mosquitto account')
  const serviceUsername = env.PRINTMQ_MQTT_USERNAME !== undefined && env.PRINTMQ_MQTT_USERNAME !== '' ? env.PRINTMQ_MQTT_USERNAME : SERVICE_USERNAME
  const technicians = (values.technician ?? []).map(parseTechnician)
  const tenants = values.tenant ?? []
  if (!tenants.every(isValidId)) throw new ConfigError('--tenant', 'an id (1-64 of A-Z a-z 0-9 _ -)')
  const keys = values.licenses === undefined ? [] : await readLicenseKeys(values.licenses)

  const config = loadServerConfig(env, values['data-dir'] !== undefined ? { 'data-dir': values['data-dir'] } : {})
  const database = await openDatabase(config.databaseUrl !== null ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir })
  let agents: Awaited<ReturnType<typeof listLicensedAgents>> = []
  try {
    for (const tenant of tenants.length > 0 ? tenants : await listVisibleTenants(database.db)) {
      agents.push(...await withTenant(database.db, tenant, listLicensedAgents))
    }
  } catch (err) {
    // 42P01: undefined table. A database the server never started on (or migrated).
    if ((err as { code?: unknown }).code === '42P01') throw new ConfigError(config.databaseUrl !== null ? 'DATABASE_URL' : '--data-dir', 'the database has no printmq tables yet: start `printmq server` on it once (or run `printmq migrate`), then run this again')
    throw err
  } finally {
    await database.close()
  }
  agents = agents.sort((a, b) => `${a.tenant}/${a.branch}/${a.agent}`.localeCompare(`${b.tenant}/${b.branch}/${b.agent}`))

  const out = values.out
  await mkdir(out, { recursive: true })
  const previous = await readJson<AgentLines>(join(out, 'agent-licenses.json'), {})
  const keyByHash = new Map(keys.map((key) => [hashLicenseKey(key), key]))
  const current = new Set(agents.map((a) => a.licenseHash))
  const stale = keys.filter((key) => !current.has(hashLicenseKey(key)))
  if (stale.length > 0) throw new ConfigError('--licenses', `${stale.length} key(s) are not the current license of any agent (rotated, revoked or mistyped): ${stale.map((k) => k.split('.').slice(1, 4).join('/')).join(', ')}`)

  const lines: AgentLines = {}
  const missing: string[] = []
  for (const agent of agents) {
    const { username } = agentMqttIdentity({ tenant: agent.tenant, branch: agent.branch, agent: agent.agent })
    const key = keyByHash.get(agent.licenseHash)
    const kept = previous[username]
    if (key !== undefined) lines[username] = { licenseHash: agent.licenseHash, line: mosquittoPasswordLine(username, key) }
    else if (kept !== undefined && kept.licenseHash === agent.licenseHash) lines[username] = kept
    else missing.push(username)
  }

  const technicianPasswords = await readTechnicianPasswords(join(out, 'technician-passwords'))
  for (const technician of technicians) {
    if (!technicianPasswords.has(technician.username)) technicianPasswords.set(technician.username, randomBytes(24).toString('base64url'))
  }
  const passwd = [
    mosquittoPasswordLine(serviceUsername, servicePassword),
    ...Object.values(lines).map((l) => l.line),
    ...technicians.map((t) => mosquittoPasswordLine(t.username, technicianPasswords.get(t.username) as string))
  ].join('\n') + '\n'
  const acl = mosquittoAclFile({ serviceUsername, agents: agents.map((a) => ({ ref: { tenant: a.tenant, branch: a.branch, agent: a.agent }, printers: a.printers })), technicians })

  await writeAtomic(join(out, 'passwd'), passwd, 0o600)
  await writeAtomic(join(out, 'acl'), acl, 0o644)
  await writeAtomic(join(out, 'agent-licenses.json'), JSON.stringify(lines, null, 2) + '\n', 0o600)
  await writeAtomic(join(out, 'technician-passwords'), [...technicianPasswords].map(([u, p]) => `${u}:${p}`).join('\n') + '\n', 0o600)
  console.log(`wrote ${join(out, 'passwd')} and ${join(out, 'acl')}: ${Object.keys(lines).length} agent(s), ${technicians.length} technician(s)`)
  if (missing.length > 0) {
    console.log(`no password line for ${missing.length} agent(s) (their key is needed: rotate the license and pass the new key with --licenses): ${missing.join(', ')}`)
  }
}

function parseTechnician (spec: string): AclTechnician {
  const [username, tenant, branches] = spec.split(':')
  if (username === undefined || !/^[A-Za-z0-9_.-]{1,64}$/.test(username) || username.startsWith('agent.') || username === SERVICE_USERNAME) {
    throw new ConfigError('--technician', `NAME:TENANT[:BRANCH,...] with NAME 1-64 of A-Z a-z 0-9 _ . - (not agent.*), got ${JSON.stringify(spec)}`)
  }
  if (!isValidId(tenant)) throw new ConfigError('--technician', `tenant of ${JSON.stringify(spec)} is not an id`)
  const list = branches === undefined ? null : branches.split(',')
  if (list !== null && !list.every(isValidId)) throw new ConfigError('--technician', `branches of ${JSON.stringify(spec)} are not ids`)
  return { username, tenant, branches: list }
}

async function readLicenseKeys (path: string): Promise<string[]> {
  const keys = (await readFile(path, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const bad = keys.findIndex((k) => parseLicenseKey(k) === null)
  if (bad !== -1) throw new ConfigError('--licenses', `line ${bad + 1} is not a license key`)
  return keys
}

async function readTechnicianPasswords (path: string): Promise<Map<string, string>> {
  let text = ''
  try { text = await readFile(path, 'utf8') } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err }
  return new Map(text.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]))
}

async function readJson<T> (path: string, fallback: T): Promise<T> {
  try { return JSON.parse(await readFile(path, 'utf8')) as T } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback
    throw err
  }
}

async function writeAtomic (path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode })
  await rename(tmp, path)
}
