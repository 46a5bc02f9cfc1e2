import t from 'tap'
import { agentMqttIdentity, createLicenseKey, hashLicenseKey, licenseMatches, parseAgentMqttName, parseLicenseKey } from '../../shared/license.js'

const ref = { tenant: 'acme', branch: 'b1', agent: 'kitchen' }

t.test('a license key names its agent and carries 32 random bytes', async (t) => {
  const key = createLicenseKey(ref)
  t.match(key, /^pmq1\.acme\.b1\.kitchen\.[A-Za-z0-9_-]{43}$/)
  t.same(parseLicenseKey(key), ref)
  t.not(createLicenseKey(ref), key, 'keys are random')
})

t.test('malformed keys do not parse', async (t) => {
  const key = createLicenseKey(ref)
  for (const bad of ['', 'pmq1', key + 'x', key.replace('pmq1', 'pmq2'), 'pmq1.a.b.c.short', `pmq1.a/b.b.c.${'x'.repeat(43)}`, 42, null]) {
    t.equal(parseLicenseKey(bad), null, String(bad))
  }
})

t.test('the stored hash matches only the same key', async (t) => {
  const key = createLicenseKey(ref)
  const hash = hashLicenseKey(key)
  t.match(hash, /^[0-9a-f]{64}$/)
  t.ok(licenseMatches(key, hash))
  t.notOk(licenseMatches(createLicenseKey(ref), hash))
  t.notOk(licenseMatches(key, 'abcd'))
})

t.test('the MQTT identity is derived from the agent and parses back', async (t) => {
  const id = agentMqttIdentity(ref)
  t.same(id, { username: 'agent.acme.b1.kitchen', clientId: 'agent.acme.b1.kitchen' })
  t.same(parseAgentMqttName(id.clientId), ref)
  t.equal(parseAgentMqttName('agent.acme.b1'), null)
  t.equal(parseAgentMqttName('technician'), null)
})
