/** The API's error registry and the README's error table stay in step. */
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { API_ERRORS } from '../../api/errors.js'

t.test('every API error code is documented in the README with its status', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const table = readme.split('\n').filter((line) => line.startsWith('| `PRINTMQ_API_'))
  for (const error of API_ERRORS) {
    const short = `..._${error.code.replace('PRINTMQ_API_', '')}`
    const row = table.find((line) => line.includes(`\`${error.code}\``) || line.includes(`\`${short}\``))
    t.ok(row, `${error.code} has a row`)
    t.match(row ?? '', new RegExp(`\\| ${error.statusCode} \\|`), `${error.code} is documented as ${error.statusCode}`)
  }
})
