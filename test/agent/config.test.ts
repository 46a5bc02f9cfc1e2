import t from 'tap'
import { resolve } from 'node:path'
import { loadAgentConfig } from '../../agent/config.js'
import { AGENT_ERRORS } from '../../agent/errors.js'
import { createLicenseKey } from '../../shared/license.js'

const license = createLicenseKey({ tenant: 'acme', branch: 'b1', agent: 'a1' })

t.test('the agent config comes from the environment with defaults', async (t) => {
  const config = loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://broker:1883', PRINTMQ_LICENSE: license })
  t.same(config, { url: 'mqtt://broker:1883', licenseKey: license, agent: { tenant: 'acme', branch: 'b1', agent: 'a1' }, stateDir: resolve('./.agent-state'), logLevel: 'info' })
  t.ok(Object.isFrozen(config))
})

t.test('flags override environment variables', async (t) => {
  const config = loadAgentConfig(
    { url: 'wss://broker/mqtt', 'state-dir': '/var/lib/printmq', 'log-level': 'debug' },
    { PRINTMQ_URL: 'mqtt://ignored', PRINTMQ_LICENSE: license, PRINTMQ_STATE_DIR: '/ignored', PRINTMQ_LOG_LEVEL: 'warn' })
  t.match(config, { url: 'wss://broker/mqtt', stateDir: '/var/lib/printmq', logLevel: 'debug' })
})

t.test('a missing url names both the flag and the variable', async (t) => {
  t.throws(() => loadAgentConfig({}, { PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL', message: /--url \/ PRINTMQ_URL/ })
})

t.test('a url with another protocol is refused naming its source', async (t) => {
  t.throws(() => loadAgentConfig({ url: 'http://broker' }, { PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL', message: /^--url: protocol http:/ })
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'nonsense', PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL', message: /^PRINTMQ_URL:/ })
})

t.test('a url carrying credentials is refused', async (t) => {
  t.throws(() => loadAgentConfig({ url: 'mqtt://user:secret@broker' }, { PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL' })
})

t.test('a malformed license is refused without echoing it', async (t) => {
  const bad = 'pmq1.acme.b1.a1.tooshort'
  const err = t.throws(() => loadAgentConfig({ license: bad }, { PRINTMQ_URL: 'mqtt://broker' }), { code: 'PRINTMQ_AGENT_BAD_LICENSE', message: /^--license:/ }) as Error
  t.notMatch(err.message, bad)
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://broker' }), { code: 'PRINTMQ_AGENT_BAD_LICENSE', message: /PRINTMQ_LICENSE/ })
})

t.test('an unknown log level is refused naming the variable', async (t) => {
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://broker', PRINTMQ_LICENSE: license, PRINTMQ_LOG_LEVEL: 'loud' }), { code: 'PRINTMQ_AGENT_BAD_LOG_LEVEL', message: /^PRINTMQ_LOG_LEVEL: "loud"/ })
})

t.test('every agent error code is unique and prefixed', async (t) => {
  const codes = AGENT_ERRORS.map((e) => e.code)
  t.equal(new Set(codes).size, codes.length)
  t.ok(codes.every((code) => /^PRINTMQ_AGENT_[A-Z_]+$/.test(code)))
})
