/** The technician verifier applies the HTTP API's token rules to MQTT passwords. */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { createTechnicianVerifier } from '../../api/auth/technician-verifier.js'
import { mintToken } from '../../api/auth/tokens.js'

const secret = randomBytes(32).toString('base64url')
const claims = { sub: 'tech', tenant: 'acme', role: 'technician' }

t.test('a technician token gives its tenant and branches', async (t) => {
  const verify = createTechnicianVerifier({ algorithm: 'HS256', secret })
  const limited = await verify(mintToken(secret, { tenant: 'acme', role: 'technician', subject: 'tech', ttlSeconds: 60, branches: ['b1'] }))
  t.same({ ...limited, expiresAt: 0 }, { tenant: 'acme', branches: ['b1'], subject: 'tech', expiresAt: 0 })
  t.same({ ...await verify(mintToken(secret, { tenant: 'acme', role: 'technician', subject: 'tech', ttlSeconds: 60 })), expiresAt: 0 }, { tenant: 'acme', branches: null, subject: 'tech', expiresAt: 0 })
  // The token's exp, in ms: the broker closes the session then.
  const expiresIn = (limited?.expiresAt ?? 0) - Date.now()
  t.ok(expiresIn > 55_000 && expiresIn <= 60_000, `expiresAt is the token's exp (${expiresIn} ms from now)`)
})

t.test('other roles, expired, unsigned, other algorithms, other keys and missing exp are refused', async (t) => {
  const verify = createTechnicianVerifier({ algorithm: 'HS256', secret })
  t.equal(await verify(mintToken(secret, { tenant: 'acme', role: 'admin', subject: 'a', ttlSeconds: 60 })), null, 'admin')
  t.equal(await verify(mintToken(secret, { tenant: 'acme', role: 'technician', subject: 'a', ttlSeconds: -10 })), null, 'expired')
  t.equal(await verify(createSigner({ key: secret, algorithm: 'HS512', expiresIn: 60_000 })(claims)), null, 'HS512')
  t.equal(await verify(createSigner({ algorithm: 'none', expiresIn: 60_000 })(claims)), null, 'alg none')
  t.equal(await verify(createSigner({ key: secret, algorithm: 'HS256' })(claims)), null, 'no exp')
  t.equal(await verify(mintToken(randomBytes(32).toString('base64url'), { tenant: 'acme', role: 'technician', subject: 'a', ttlSeconds: 60 })), null, 'another secret')
  t.equal(await verify('x'.repeat(10_000)), null, 'oversized')
  t.equal(await verify('not a token'), null)
})

t.test('issuer and audience are required when configured', async (t) => {
  const verify = createTechnicianVerifier({ algorithm: 'HS256', secret, issuer: 'https://auth.example', audience: 'printmq' })
  const sign = (extra: Record<string, string>): string => createSigner({ key: secret, algorithm: 'HS256', expiresIn: 60_000, ...extra })(claims)
  t.ok(await verify(sign({ iss: 'https://auth.example', aud: 'printmq' })))
  t.equal(await verify(sign({ aud: 'printmq' })), null, 'no iss')
  t.equal(await verify(sign({ iss: 'https://evil.example', aud: 'printmq' })), null, 'another iss')
  t.equal(await verify(sign({ iss: 'https://auth.example' })), null, 'no aud')
})

t.test('with a public key, only tokens of that algorithm and key pass', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const verify = createTechnicianVerifier({ algorithm: 'ES256', publicKey: pem })
  t.ok(await verify(createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', expiresIn: 60_000 })(claims)))
  t.equal(await verify(createSigner({ key: pem, algorithm: 'HS256', expiresIn: 60_000 })(claims)), null, 'HS256 signed with the public key (key confusion)')
})
