/** Turns the configuration into the API's token verification settings (reads the key file). */
import { readFile } from 'node:fs/promises'
import type { JwtVerification } from '../api/auth/jwt-options.js'
import type { ServerConfig } from './config.js'
import { ConfigError } from './config.js'

/** HS256 with `secret`, or the configured algorithm with the public key file's PEM. */
export async function jwtVerification (config: ServerConfig, secret: string): Promise<JwtVerification> {
  const claims = {
    ...(config.jwtIssuer !== null ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience !== null ? { audience: config.jwtAudience } : {})
  }
  if (config.jwtAlgorithm === 'HS256' || config.jwtPublicKeyFile === null) return { algorithm: 'HS256', secret, ...claims }
  let publicKey: string
  try {
    publicKey = await readFile(config.jwtPublicKeyFile, 'utf8')
  } catch (err) {
    throw new ConfigError('PRINTMQ_JWT_PUBLIC_KEY', `cannot read ${config.jwtPublicKeyFile}: ${(err as Error).message}`)
  }
  return { algorithm: config.jwtAlgorithm, publicKey, ...claims }
}
