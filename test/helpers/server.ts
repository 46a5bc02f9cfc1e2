/**
 * Starts a real printmq server for a test: HTTP and MQTT on 127.0.0.1 port 0, the
 * database given (in-memory PGlite by default), and helpers to call the API.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Role } from '../../api/auth/claims.js'
import { mintToken } from '../../api/auth/tokens.js'
import type { DatabaseLocation } from '../../api/db/database.js'
import { loadServerConfig } from '../../server/config.js'
import { PrintmqServer } from '../../server/server.js'
import { createLogger, type Logger } from '../../shared/logger.js'

/** A running server and ways to talk to it. */
export interface TestServer {
  readonly server: PrintmqServer
  readonly httpUrl: string
  readonly mqttUrl: string
  readonly mqttPort: number
  readonly secret: string
  /** A token for `tenant` with `role`. */
  token (tenant: string, role: Role, extra?: { branches?: string[] }): string
  /** Call the API; returns status, headers and parsed JSON body. */
  request (method: string, path: string, options?: { token?: string, body?: unknown, headers?: Record<string, string> }): Promise<ApiResponse>
}

/** What {@link TestServer.request} returns. */
export interface ApiResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  readonly database?: DatabaseLocation
  readonly logger?: Logger
  readonly env?: Record<string, string>
}

/** Start a server; stopped at `t`'s teardown. */
export async function startTestServer (t: Test, options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'printmq-test-'))
  const secret = randomBytes(32).toString('base64url')
  const config = loadServerConfig({
    PRINTMQ_HTTP_HOST: '127.0.0.1',
    PRINTMQ_HTTP_PORT: '0',
    PRINTMQ_MQTT_HOST: '127.0.0.1',
    PRINTMQ_MQTT_PORT: '0',
    PRINTMQ_DATA_DIR: dataDir,
    PRINTMQ_JWT_SECRET: secret,
    ...options.env
  })
  const logger = options.logger ?? createLogger({ level: process.env.PRINTMQ_TEST_LOG_LEVEL ?? 'silent' })
  const server = new PrintmqServer(config, logger, {
    database: options.database ?? { kind: 'pglite', dataDir: null },
    sweepIntervalMs: 200
  })
  const { httpPort, mqttPort } = await server.start()
  t.teardown(async () => {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  })
  const httpUrl = `http://127.0.0.1:${httpPort}`
  return {
    server,
    httpUrl,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort ?? 0}`,
    mqttPort: mqttPort ?? 0,
    secret,
    token: (tenant, role, extra = {}) => mintToken(secret, { tenant, role, subject: `test-${role}`, ttlSeconds: 3600, ...extra }),
    request: async (method, path, requestOptions = {}) => {
      const headers: Record<string, string> = { ...requestOptions.headers }
      if (requestOptions.token !== undefined) headers.authorization = `Bearer ${requestOptions.token}`
      if (requestOptions.body !== undefined) headers['content-type'] = 'application/json'
      const response = await fetch(httpUrl + path, {
        method,
        headers,
        ...(requestOptions.body !== undefined ? { body: JSON.stringify(requestOptions.body) } : {})
      })
      const text = await response.text()
      let body: unknown = text
      try { body = JSON.parse(text) } catch {}
      return { status: response.status, headers: response.headers, body }
    }
  }
}

/** Create a branch, an agent and a printer; returns the agent's license key. */
export async function provision (server: TestServer, tenant: string, setup: {
  branch: string, agent: string, printer: string, printerPort: number, model?: 'epson' | 'star'
}): Promise<{ licenseKey: string, adminToken: string }> {
  const adminToken = server.token(tenant, 'admin')
  const branch = await server.request('POST', '/v1/branches', { token: adminToken, body: { id: setup.branch } })
  if (branch.status !== 201 && branch.status !== 409) throw new Error(`branch: ${branch.status} ${JSON.stringify(branch.body)}`)
  const agent = await server.request('POST', `/v1/branches/${setup.branch}/agents`, { token: adminToken, body: { id: setup.agent } })
  if (agent.status !== 201) throw new Error(`agent: ${agent.status} ${JSON.stringify(agent.body)}`)
  const printer = await server.request('POST', `/v1/branches/${setup.branch}/printers`, {
    token: adminToken,
    body: { id: setup.printer, agentId: setup.agent, model: setup.model ?? 'epson', connection: { type: 'tcp', host: '127.0.0.1', port: setup.printerPort } }
  })
  if (printer.status !== 201) throw new Error(`printer: ${printer.status} ${JSON.stringify(printer.body)}`)
  return { licenseKey: agent.body.licenseKey as string, adminToken }
}
