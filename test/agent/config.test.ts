import t from 'tap'
import { resolve } from 'node:path'
import { loadAgentConfig } from '../../agent/config.js'
import { AGENT_ERRORS } from '../../agent/errors.js'
import { createLicenseKey } from '../../shared/license.js'

const license = createLicenseKey({ tenant: 'acme', branch: 'b1', agent: 'a1' })

t.test('the agent config comes from the environment with defaults', async (t) => {
  const config = loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://broker:1883', PRINTMQ_LICENSE: license })
  t.same(config, { url: 'mqtt://broker:1883', urls: ['mqtt://broker:1883'], licenseKey: license, agent: { tenant: 'acme', branch: 'b1', agent: 'a1' }, stateDir: resolve('./.agent-state'), logLevel: 'info', healthIntervalMs: 15000, statusIntervalMs: 5000, statusTimeoutMs: 2000 })
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

t.test('several broker urls: repeated flags, commas, the variable and a file array', async (t) => {
  t.same(loadAgentConfig({ url: ['mqtt://a:1883', 'mqtt://b:1883,wss://c/mqtt'] }, { PRINTMQ_LICENSE: license }).urls, ['mqtt://a:1883', 'mqtt://b:1883', 'wss://c/mqtt'])
  const fromEnv = loadAgentConfig({}, { PRINTMQ_URL: ' mqtt://a:1883 , mqtt://b:1883 ', PRINTMQ_LICENSE: license })
  t.same(fromEnv.urls, ['mqtt://a:1883', 'mqtt://b:1883'])
  t.equal(fromEnv.url, 'mqtt://a:1883', 'url is the first')
  t.same(loadAgentConfig({}, { PRINTMQ_LICENSE: license }, { url: ['mqtt://a', 'mqtt://b'] }, 'agent.json').urls, ['mqtt://a', 'mqtt://b'])
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://a:1883,http://b', PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL', message: /^PRINTMQ_URL: protocol http:/ })
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: ' , ', PRINTMQ_LICENSE: license }), { code: 'PRINTMQ_AGENT_BAD_URL', message: /required/ })
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

t.test('a config file fills in what flags and environment leave unset', async (t) => {
  const config = loadAgentConfig(
    { 'status-interval': '1000' },
    { PRINTMQ_LICENSE: license, PRINTMQ_HEALTH_INTERVAL_MS: '30000' },
    { url: 'mqtt://from-file:1883', license: 'ignored', healthInterval: 5000, statusInterval: 9000, statusTimeout: 500, stateDir: '/var/lib/printmq' },
    '/etc/printmq/agent.json')
  t.match(config, { url: 'mqtt://from-file:1883', licenseKey: license, healthIntervalMs: 30000, statusIntervalMs: 1000, statusTimeoutMs: 500, stateDir: '/var/lib/printmq' })
})

t.test('an unknown config file key and a bad interval are refused naming their source', async (t) => {
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://b', PRINTMQ_LICENSE: license }, { healthIntervall: 1 }, 'agent.json'),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: /^agent.json: unknown setting "healthIntervall"/ })
  t.throws(() => loadAgentConfig({ 'status-interval': '10' }, { PRINTMQ_URL: 'mqtt://b', PRINTMQ_LICENSE: license }),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: /^--status-interval:/ })
  t.throws(() => loadAgentConfig({}, { PRINTMQ_URL: 'mqtt://b', PRINTMQ_LICENSE: license, PRINTMQ_STATUS_TIMEOUT_MS: 'soon' }),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: /^PRINTMQ_STATUS_TIMEOUT_MS:/ })
})

t.test('0 turns idle status checks off; a status timeout or health interval of 0 is refused', async (t) => {
  const env = { PRINTMQ_URL: 'mqtt://b', PRINTMQ_LICENSE: license }
  t.equal(loadAgentConfig({ 'status-interval': '0' }, env).statusIntervalMs, 0)
  // A timeout of 0 would call every printer offline; a health interval of 0 would publish health without pause.
  t.throws(() => loadAgentConfig({ 'status-timeout': '0' }, env),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: '--status-timeout: "0" is not a number of milliseconds (50 to 86400000)' })
  t.throws(() => loadAgentConfig({}, { ...env, PRINTMQ_HEALTH_INTERVAL_MS: '0' }),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: 'PRINTMQ_HEALTH_INTERVAL_MS: "0" is not a number of milliseconds (1000 to 86400000)' })
  t.throws(() => loadAgentConfig({ 'status-interval': '10' }, env),
    { code: 'PRINTMQ_AGENT_BAD_SETTING', message: '--status-interval: "10" is not a number of milliseconds (0 for off, or 500 to 86400000)' })
})
