/** The OpenAPI document: valid by an independent validator, listing every route; the UI is served. */
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { routesOf } from '../../api/app.js'
import { startTestServer } from '../helpers/server.js'

const server = await startTestServer(t)

t.test('the OpenAPI 3 document is valid and lists every route with its methods', async (t) => {
  const response = await fetch(`${server.httpUrl}/docs/json`)
  t.equal(response.status, 200)
  const document = await response.json() as any
  t.match(document.openapi, /^3\./)
  await SwaggerParser.validate(structuredClone(document))
  t.pass('swagger-parser validates the document')

  const app = server.server.http
  if (app === null) throw new Error('not started')
  const routes = routesOf(app).filter((r) => !r.hidden && r.method !== 'HEAD' && r.method !== 'OPTIONS')
  t.ok(routes.length > 25, `${routes.length} routes`)
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    t.ok(document.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path} is documented`)
  }
  const submit = document.paths['/v1/print-jobs'].post
  t.ok(submit.requestBody.content['application/json'].schema, 'request bodies carry their schema')
  t.same(document.paths['/v1/branches'].get.security, [{ bearerAuth: [] }])
  t.ok(document.paths['/v1/branches/{branchId}/printers/{printerId}'].get.responses['404'], 'errors are documented')
})

t.test('the docs UI is served', async (t) => {
  const response = await fetch(`${server.httpUrl}/docs/`)
  t.equal(response.status, 200)
  t.match(await response.text(), /swagger/i)
})
