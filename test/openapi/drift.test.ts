import t from 'tap'
import { renderOpenApi } from '../../scripts/openapi.js'
import { buildTestApp } from '../helpers/harness.js'
import { readCheckedInDocument } from '../helpers/openapi.js'

// openapi.yaml is what the routes' schemas say, and what the service serves: if this fails, run
// `npm run openapi` and commit the file with the route change.

const { text, document } = await readCheckedInDocument()
// The routes and their schemas make the document, whatever the stores: the app on this file's own
// Postgres renders what `npm run openapi` renders on the embedded ones, without a fresh PGlite's
// initdb (half a minute of this file's time on a busy machine).
const app = await buildTestApp(t)

t.test('openapi.yaml is exactly what the app generates', async (t) => {
  const generated = await renderOpenApi(app)
  t.ok(generated === text, 'openapi.yaml is up to date (run `npm run openapi` after changing a route)')
  if (generated !== text) {
    const lines = [generated.split('\n'), text.split('\n')] as const
    const first = lines[0].findIndex((line, i) => line !== lines[1][i])
    t.comment(`first difference at line ${first + 1}:\n  generated:  ${lines[0][first] ?? '(end of file)'}\n  checked in: ${lines[1][first] ?? '(end of file)'}`)
  }
})

t.test('the running service serves the same document', async (t) => {
  const json = await app.inject({ url: '/docs/json' })
  t.equal(json.statusCode, 200)
  t.match(json.headers['content-type'], /^application\/json/)
  t.same(json.json(), document, '/docs/json equals openapi.yaml')

  const yaml = await app.inject({ url: '/docs/yaml' })
  t.equal(yaml.statusCode, 200, '/docs/yaml is served too')

  const ui = await app.inject({ url: '/docs' })
  const page = ui.statusCode >= 300 && ui.statusCode < 400 ? await app.inject({ url: new URL(String(ui.headers.location), 'http://x/docs/').pathname }) : ui
  t.equal(page.statusCode, 200, '/docs answers (or redirects to) the interactive UI')
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /swagger-ui/i)
})
