/**
 * Auth fails closed: every bad token, on every route the app has, answers 401 with a
 * JSON error (never 200, never 500); roles are enforced per route; a server configured
 * for RS256 refuses HS256 tokens signed with its public key (key confusion).
 */
import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { routesOf, type RouteSummary } from '../../api/app.js'
import { loadServerConfig } from '../../server/config.js'
import { asymmetricToken, claims, hmacToken, unsignedToken } from '../helpers/jwt-forge.js'
import { startTestServer, type TestServer } from '../helpers/server.js'

/** Routes anyone may call: probes, metrics (aggregates only) and the API docs. */
const PUBLIC = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics'])
const isPublic = (r: RouteSummary): boolean => PUBLIC.has(`${r.method} ${r.url}`) || r.url === '/docs' || r.url.startsWith('/docs/')

/** The roles each protected route admits. A new route must be added here. */
const ROLES: Record<string, string[]> = {
  'POST /v1/branches': ['admin'],
  'GET /v1/branches': ['admin', 'operator', 'technician'],
  'GET /v1/branches/:branchId': ['admin', 'operator', 'technician'],
  'PATCH /v1/branches/:branchId': ['admin'],
  'DELETE /v1/branches/:branchId': ['admin'],
  'GET /v1/branches/:branchId/health': ['admin', 'operator', 'technician'],
  'POST /v1/branches/:branchId/agents': ['admin'],
  'GET /v1/branches/:branchId/agents': ['admin', 'operator', 'technician'],
  'GET /v1/branches/:branchId/agents/:agentId': ['admin', 'operator', 'technician'],
  'PATCH /v1/branches/:branchId/agents/:agentId': ['admin'],
  'DELETE /v1/branches/:branchId/agents/:agentId': ['admin'],
  'POST /v1/branches/:branchId/agents/:agentId/license': ['admin'],
  'DELETE /v1/branches/:branchId/agents/:agentId/license': ['admin'],
  'POST /v1/branches/:branchId/agents/:agentId/discovery': ['admin', 'technician'],
  'GET /v1/branches/:branchId/agents/:agentId/discovery': ['admin', 'technician'],
  'GET /v1/branches/:branchId/agents/:agentId/discovery/:discoveryId': ['admin', 'technician'],
  'POST /v1/branches/:branchId/printers': ['admin'],
  'GET /v1/branches/:branchId/printers': ['admin', 'operator', 'technician'],
  'GET /v1/branches/:branchId/printers/:printerId': ['admin', 'operator', 'technician'],
  'PATCH /v1/branches/:branchId/printers/:printerId': ['admin'],
  'DELETE /v1/branches/:branchId/printers/:printerId': ['admin'],
  'POST /v1/branches/:branchId/printers/:printerId/test-print': ['admin', 'technician'],
  'POST /v1/printers/:printerId/test-print': ['admin', 'technician'],
  'POST /v1/print-jobs': ['admin', 'operator'],
  'GET /v1/print-jobs': ['admin', 'operator', 'technician'],
  'GET /v1/print-jobs/:id': ['admin', 'operator', 'technician'],
  'POST /v1/print-jobs/:id/cancel': ['admin', 'operator'],
  'POST /v1/print-jobs/:id/reprint': ['admin', 'operator'],
  'GET /v1/events': ['admin', 'operator', 'technician']
}

const ISSUER = 'https://auth.example.test'
const AUDIENCE = 'printmq'
const JOB_ID = '00000000-0000-4000-8000-000000000000'

/** A concrete path for a route pattern. */
function pathOf (url: string): string {
  return url.replace(':branchId', 'nope-branch').replace(':agentId', 'nope-agent').replace(':printerId', 'nope-printer').replace(':discoveryId', JOB_ID).replace(':id', JOB_ID)
}

/** The protected routes of a running server (HEAD and OPTIONS are Fastify's and CORS's own). */
function protectedRoutes (server: TestServer): RouteSummary[] {
  const app = server.server.http
  if (app === null) throw new Error('server not started')
  return routesOf(app).filter((r) => !isPublic(r) && r.method !== 'HEAD' && r.method !== 'OPTIONS')
}

async function call (server: TestServer, route: RouteSummary, authorization: string | null): Promise<{ status: number, body: any }> {
  const hasBody = route.method === 'POST' || route.method === 'PATCH'
  const controller = new AbortController()
  const response = await fetch(server.httpUrl + pathOf(route.url), {
    method: route.method,
    headers: { ...(authorization !== null ? { authorization } : {}), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    ...(hasBody ? { body: '{}' } : {}),
    signal: controller.signal
  })
  // An accepted event stream never ends; read what a refusal would be and stop.
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    controller.abort()
    return { status: response.status, body: null }
  }
  const text = await response.text()
  let body: any = text
  try { body = JSON.parse(text) } catch {}
  return { status: response.status, body }
}

function assertUnauthorized (t: Test, label: string, response: { status: number, body: any }): void {
  const ok = response.status === 401 && response.body?.code === 'PRINTMQ_API_UNAUTHORIZED' && response.body?.statusCode === 401 && typeof response.body?.message === 'string'
  t.ok(ok, `${label}: 401 JSON (got ${response.status} ${JSON.stringify(response.body)})`)
}

t.test('HS256 server with issuer and audience', async (t) => {
  const server = await startTestServer(t, { env: { PRINTMQ_JWT_ISSUER: ISSUER, PRINTMQ_JWT_AUDIENCE: AUDIENCE } })
  const good = (extra: Record<string, unknown> = {}): Record<string, unknown> => claims('acme', 'admin', { iss: ISSUER, aud: AUDIENCE, ...extra })
  const now = Math.floor(Date.now() / 1000)
  const { privateKey: rsaKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const { exp: _exp, ...withoutExp } = good()
  const { sub: _sub, ...withoutSub } = good()
  const { tenant: _tenant, ...withoutTenant } = good()
  const { role: _role, ...withoutRole } = good()
  const bad: Record<string, string | null> = {
    'no authorization header': null,
    'empty bearer': 'Bearer ',
    'basic scheme': `Basic ${Buffer.from('admin:admin').toString('base64')}`,
    'garbage token': 'Bearer garbage',
    'three garbage segments': 'Bearer a.b.c',
    'header not JSON': `Bearer ${Buffer.from('{').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`,
    'oversized garbage token': `Bearer ${'x'.repeat(10_000)}`,
    'no audience': `Bearer ${hmacToken('HS256', server.secret, claims('acme', 'admin', { iss: ISSUER }))}`,
    'alg none': `Bearer ${unsignedToken(good())}`,
    'wrong algorithm (HS512, right secret)': `Bearer ${hmacToken('HS512', server.secret, good())}`,
    'wrong algorithm (RS256)': `Bearer ${asymmetricToken('RS256', rsaKey, good())}`,
    'wrong secret': `Bearer ${hmacToken('HS256', 'another-secret-that-is-long-enough-000', good())}`,
    'tampered payload': `Bearer ${(() => { const [h, , s] = hmacToken('HS256', server.secret, good()).split('.'); return `${h as string}.${Buffer.from(JSON.stringify(good({ role: 'admin', tenant: 'other' }))).toString('base64url')}.${s as string}` })()}`,
    expired: `Bearer ${hmacToken('HS256', server.secret, good({ iat: now - 7200, exp: now - 60 }))}`,
    'not yet valid (nbf)': `Bearer ${hmacToken('HS256', server.secret, good({ nbf: now + 600 }))}`,
    'wrong issuer': `Bearer ${hmacToken('HS256', server.secret, good({ iss: 'https://evil.test' }))}`,
    'no issuer': `Bearer ${hmacToken('HS256', server.secret, claims('acme', 'admin', { aud: AUDIENCE }))}`,
    'wrong audience': `Bearer ${hmacToken('HS256', server.secret, good({ aud: 'someone-else' }))}`,
    'foreign tenant (not a tenant id)': `Bearer ${hmacToken('HS256', server.secret, good({ tenant: 'acme/#' }))}`,
    'missing exp': `Bearer ${hmacToken('HS256', server.secret, withoutExp)}`,
    'missing sub': `Bearer ${hmacToken('HS256', server.secret, withoutSub)}`,
    'missing tenant': `Bearer ${hmacToken('HS256', server.secret, withoutTenant)}`,
    'missing role': `Bearer ${hmacToken('HS256', server.secret, withoutRole)}`,
    'unknown role': `Bearer ${hmacToken('HS256', server.secret, good({ role: 'root' }))}`,
    'branches not a list of ids': `Bearer ${hmacToken('HS256', server.secret, good({ branches: 'b1' }))}`
  }
  const routes = protectedRoutes(server)
  t.ok(routes.length >= Object.keys(ROLES).length, `${routes.length} protected routes found`)

  t.test('every protected route is in the role table', async (t) => {
    t.same(routes.map((r) => `${r.method} ${r.url}`).sort(), Object.keys(ROLES).sort())
  })

  t.test('every bad token on every route answers 401 with a JSON body', async (t) => {
    for (const route of routes) {
      for (const [name, authorization] of Object.entries(bad)) {
        assertUnauthorized(t, `${route.method} ${route.url} with ${name}`, await call(server, route, authorization))
      }
    }
  })

  t.test('a token accepted before its exp is refused after it: the verification cache keeps no token past its exp', async (t) => {
    const exp = Math.floor(Date.now() / 1000) + 2
    const token = `Bearer ${hmacToken('HS256', server.secret, good({ exp }))}`
    const route = routes.find((r) => r.method === 'GET' && r.url === '/v1/branches')
    if (route === undefined) throw new Error('GET /v1/branches is not a route')
    t.equal((await call(server, route, token)).status, 200, 'accepted (and cached)')
    t.equal((await call(server, route, token)).status, 200, 'accepted again')
    while (Date.now() <= exp * 1000 + 50) await new Promise((resolve) => setTimeout(resolve, 100))
    assertUnauthorized(t, 'the same token after its exp', await call(server, route, token))
  })

  t.test('a good token passes authentication on every route', async (t) => {
    const admin = `Bearer ${hmacToken('HS256', server.secret, good())}`
    for (const route of routes) {
      const response = await call(server, route, admin)
      t.ok(response.status !== 401 && response.status < 500, `${route.method} ${route.url}: ${response.status}`)
    }
  })

  t.test('roles are enforced per route with 403, before anything else', async (t) => {
    for (const route of routes) {
      for (const role of ['admin', 'operator', 'technician']) {
        const token = `Bearer ${hmacToken('HS256', server.secret, good({ role }))}`
        const response = await call(server, route, token)
        const allowed = ROLES[`${route.method} ${route.url}`]?.includes(role) === true
        if (allowed) t.not(response.status, 403, `${role} may use ${route.method} ${route.url}`)
        else t.equal(response.body?.code, 'PRINTMQ_API_FORBIDDEN', `${role} may not use ${route.method} ${route.url}`)
      }
    }
  })
})

t.test('RS256 server with a public key', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const keyFile = join(t.testdir(), 'jwt-public.pem')
  await writeFile(keyFile, pem)
  const server = await startTestServer(t, { env: { PRINTMQ_JWT_SECRET: '', PRINTMQ_JWT_ALGORITHM: 'RS256', PRINTMQ_JWT_PUBLIC_KEY: keyFile } })
  const routes = protectedRoutes(server)
  const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const { privateKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const bad: Record<string, string> = {
    'key confusion (HS256 signed with the public key)': hmacToken('HS256', pem, claims('acme', 'admin')),
    'key confusion (HS256 signed with the DER public key)': hmacToken('HS256', publicKey.export({ type: 'spki', format: 'der' }), claims('acme', 'admin')),
    'another RSA key': asymmetricToken('RS256', otherKey, claims('acme', 'admin')),
    'ES256 token': asymmetricToken('ES256', ecKey, claims('acme', 'admin')),
    'alg none': unsignedToken(claims('acme', 'admin')),
    'expired': asymmetricToken('RS256', privateKey, claims('acme', 'admin', { exp: Math.floor(Date.now() / 1000) - 60 }))
  }
  for (const route of routes) {
    for (const [name, token] of Object.entries(bad)) {
      assertUnauthorized(t, `${route.method} ${route.url} with ${name}`, await call(server, route, `Bearer ${token}`))
    }
  }
  const good = await server.request('GET', '/v1/branches', { token: asymmetricToken('RS256', privateKey, claims('acme', 'technician')) })
  t.equal(good.status, 200, 'a token signed with the private key is accepted')
})

t.test('the server refuses to start in production without a secret or key, and with a key that does not fit', async (t) => {
  t.throws(() => loadServerConfig({ NODE_ENV: 'production' }), /PRINTMQ_JWT_SECRET or PRINTMQ_JWT_PUBLIC_KEY is required/)
  t.throws(() => loadServerConfig({ PRINTMQ_JWT_ALGORITHM: 'RS256' }), /PRINTMQ_JWT_PUBLIC_KEY: required/)
  t.throws(() => loadServerConfig({ PRINTMQ_JWT_ALGORITHM: 'none' }), /PRINTMQ_JWT_ALGORITHM/)
  t.throws(() => loadServerConfig({ PRINTMQ_JWT_PUBLIC_KEY: '/k.pem' }), /needs PRINTMQ_JWT_ALGORITHM=RS256 or ES256/)
  t.throws(() => loadServerConfig({ PRINTMQ_JWT_ALGORITHM: 'ES256', PRINTMQ_JWT_PUBLIC_KEY: '/k.pem', PRINTMQ_JWT_SECRET: 'x'.repeat(40) }), /must not be set/)
  t.ok(loadServerConfig({ NODE_ENV: 'production', PRINTMQ_JWT_ALGORITHM: 'ES256', PRINTMQ_JWT_PUBLIC_KEY: '/k.pem' }), 'a public key is enough')

  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyFile = join(t.testdir(), 'rsa.pem')
  await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }) as string)
  await t.rejects(startTestServer(t, { env: { PRINTMQ_JWT_SECRET: '', PRINTMQ_JWT_ALGORITHM: 'ES256', PRINTMQ_JWT_PUBLIC_KEY: keyFile } }), /ES256 needs ec|public key is rsa/)
})
