/**
 * JWT keys and token minting. HS256 with a shared secret: `PRINTMQ_JWT_SECRET`, or on
 * embedded defaults a secret generated once into the data dir (`jwt-secret`, mode 0600).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import type { Role } from './claims.js'

/** The only algorithm tokens are signed and verified with (pinned: no `none`, no key confusion). */
export const JWT_ALGORITHM = 'HS256'
/** Minimum secret length in bytes. */
export const MIN_SECRET_LENGTH = 32
const SECRET_FILE = 'jwt-secret'

/** Read the data dir's secret, creating it on first use. */
export async function loadOrCreateSecret (dataDir: string): Promise<string> {
  const path = join(dataDir, SECRET_FILE)
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  try {
    await writeFile(path, secret + '\n', { mode: 0o600, flag: 'wx' })
    return secret
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(path, 'utf8')).trim()
    throw err
  }
}

/** What a minted token says. */
export interface TokenRequest {
  readonly tenant: string
  readonly role: Role
  readonly subject: string
  readonly branches?: readonly string[]
  /** Lifetime in seconds. */
  readonly ttlSeconds: number
  readonly issuer?: string
  readonly audience?: string
}

/** Sign a token for `request` with `secret`. */
export function mintToken (secret: string, request: TokenRequest): string {
  const sign = createSigner({
    key: secret,
    algorithm: JWT_ALGORITHM,
    expiresIn: request.ttlSeconds * 1000,
    ...(request.issuer !== undefined ? { iss: request.issuer } : {}),
    ...(request.audience !== undefined ? { aud: request.audience } : {})
  })
  return sign({
    sub: request.subject,
    tenant: request.tenant,
    role: request.role,
    ...(request.branches !== undefined ? { branches: [...request.branches] } : {})
  })
}
