/** CORS from an exact origin allow-list, and compression of large JSON answers. */
import t from 'tap'
import { loadServerConfig } from '../../server/config.js'
import { startTestServer } from '../helpers/server.js'

const ALLOWED = 'https://app.example.com'
const server = await startTestServer(t, { env: { PRINTMQ_CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` } })
const admin = server.token('acme', 'admin')

async function preflight (origin: string): Promise<Response> {
  return await fetch(`${server.httpUrl}/v1/print-jobs`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }
  })
}

t.test('a listed origin may call with credentials and read the correlation id', async (t) => {
  const response = await preflight(ALLOWED)
  t.equal(response.headers.get('access-control-allow-origin'), ALLOWED)
  t.equal(response.headers.get('access-control-allow-credentials'), 'true')
  t.match(response.headers.get('access-control-allow-headers'), /authorization/)
  const get = await fetch(`${server.httpUrl}/v1/branches`, { headers: { origin: 'http://localhost:5173', authorization: `Bearer ${admin}` } })
  t.equal(get.status, 200)
  t.equal(get.headers.get('access-control-allow-origin'), 'http://localhost:5173')
  t.match(get.headers.get('access-control-expose-headers'), /x-correlation-id/)
})

t.test('look-alike origins and null get no CORS headers at all', async (t) => {
  for (const origin of ['https://app.example.com.evil.test', 'https://evil-app.example.com', 'http://app.example.com', 'https://app.example.com:8443', 'null', 'https://APP.example.com.', 'https://app.example.co']) {
    const response = await preflight(origin)
    t.equal(response.headers.get('access-control-allow-origin'), null, `${origin}: no allow-origin`)
    t.equal(response.headers.get('access-control-allow-credentials'), null, `${origin}: no credentials`)
    const get = await fetch(`${server.httpUrl}/v1/branches`, { headers: { origin, authorization: `Bearer ${admin}` } })
    t.equal(get.headers.get('access-control-allow-origin'), null, `${origin}: no allow-origin on GET`)
  }
})

t.test('origins are validated when the server starts', async (t) => {
  for (const bad of ['*', 'null', 'https://app.example.com/', 'app.example.com', 'https://*.example.com']) {
    t.throws(() => loadServerConfig({ PRINTMQ_CORS_ORIGINS: bad }), /PRINTMQ_CORS_ORIGINS/, bad)
  }
})

t.test('large JSON answers are compressed for clients that accept it', async (t) => {
  for (let i = 0; i < 40; i++) await server.request('POST', '/v1/branches', { token: admin, body: { id: `cz-${i}`, name: 'A branch with a reasonably long display name' } })
  const response = await fetch(`${server.httpUrl}/v1/branches?limit=200`, { headers: { authorization: `Bearer ${admin}`, 'accept-encoding': 'gzip' } })
  t.equal(response.headers.get('content-encoding'), 'gzip')
  t.equal((await response.json() as any).items.length, 40, 'and decode to the same JSON')
})
