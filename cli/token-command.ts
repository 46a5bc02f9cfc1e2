/** `printmq token`: mint a JWT signed with the server's secret. */
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ROLES, type Role } from '../api/auth/claims.js'
import { loadOrCreateSecret, mintToken } from '../api/auth/tokens.js'
import { isValidId } from '../shared/ids.js'
import { ConfigError } from '../server/config.js'

const HELP = `usage: printmq token --tenant T --role admin|operator|technician [--sub NAME] [--branches b1,b2] [--ttl SECONDS] [--data-dir DIR]

Prints a JWT signed with PRINTMQ_JWT_SECRET, or with the secret the server keeps in
its data dir (default ./data) on embedded defaults. Default lifetime 24 h.`

export async function run (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      tenant: { type: 'string' },
      role: { type: 'string' },
      sub: { type: 'string' },
      branches: { type: 'string' },
      ttl: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) { console.log(HELP); return }
  if (!isValidId(values.tenant)) throw new ConfigError('--tenant', 'required, 1-64 of A-Z a-z 0-9 _ -')
  if (values.role === undefined || !(ROLES as readonly string[]).includes(values.role)) throw new ConfigError('--role', `required, one of ${ROLES.join(', ')}`)
  const branches = values.branches?.split(',').map((b) => b.trim()).filter((b) => b !== '')
  if (branches !== undefined && !branches.every(isValidId)) throw new ConfigError('--branches', 'comma-separated ids')
  const ttl = values.ttl === undefined ? 86_400 : Number(values.ttl)
  if (!Number.isInteger(ttl) || ttl < 1) throw new ConfigError('--ttl', 'a whole number of seconds')
  const secret = env.PRINTMQ_JWT_SECRET !== undefined && env.PRINTMQ_JWT_SECRET !== ''
    ? env.PRINTMQ_JWT_SECRET
    : await loadOrCreateSecret(resolve(values['data-dir'] ?? env.PRINTMQ_DATA_DIR ?? './data'))
  const token = mintToken(secret, {
    tenant: values.tenant,
    role: values.role as Role,
    subject: values.sub ?? `cli-${values.role}`,
    ttlSeconds: ttl,
    ...(branches !== undefined ? { branches } : {}),
    ...(env.PRINTMQ_JWT_ISSUER !== undefined && env.PRINTMQ_JWT_ISSUER !== '' ? { issuer: env.PRINTMQ_JWT_ISSUER } : {}),
    ...(env.PRINTMQ_JWT_AUDIENCE !== undefined && env.PRINTMQ_JWT_AUDIENCE !== '' ? { audience: env.PRINTMQ_JWT_AUDIENCE } : {})
  })
  process.stdout.write(token + '\n')
}
