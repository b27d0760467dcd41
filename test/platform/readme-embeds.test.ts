// Code the Markdown docs show from a file is that file, byte for byte: a fenced block right after an
// `<!-- embed: path -->` comment must equal the file at that path (which a test runs), so the docs
// cannot drift from the code that is tested. Reads files only; no services.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('../../', import.meta.url))
const docsDir = path.join(root, 'docs')
const pages = [
  ...fs.readdirSync(root).filter((name) => name.endsWith('.md')),
  ...fs.readdirSync(docsDir).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`),
]

interface Embed { file: string; block: string | undefined }

/** Each `<!-- embed: path … -->` of a page (path from the repository's root), with the fenced block that follows it (undefined if none does). */
function embedsOf(text: string): Embed[] {
  const embeds: Embed[] = []
  for (const match of text.matchAll(/^<!-- embed: (\S+)[^\n]*-->\n(```|~~~)[^\n]*\n/gm)) {
    const start = match.index + match[0].length
    const end = text.indexOf(`\n${match[2]!}\n`, start - 1)
    embeds.push({ file: match[1]!, block: end < 0 ? undefined : text.slice(start, end + 1) })
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('<!-- embed:') && !embeds.some((embed) => line.includes(` ${embed.file}`))) embeds.push({ file: line, block: undefined })
  }
  return embeds
}

t.test('the README embeds the example client app', async (t) => {
  const files = embedsOf(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).map((embed) => embed.file)
  t.ok(files.includes('examples/openid-client-login.ts'))
})

for (const page of pages) {
  const embeds = embedsOf(fs.readFileSync(path.join(root, page), 'utf8'))
  if (embeds.length === 0) continue
  t.test(page, async (t) => {
    for (const { file, block } of embeds) {
      t.not(block, undefined, `${file}: a fenced block follows the comment`)
      const source = path.join(root, file) // paths are from the repository's root, on every page
      t.ok(fs.existsSync(source), `${file} exists`)
      if (block !== undefined && fs.existsSync(source)) t.equal(block, fs.readFileSync(source, 'utf8'), `the block is ${file}, unchanged`)
    }
  })
}

t.test('the reader finds a block, and a comment without one', async (t) => {
  const text = '<!-- embed: a.ts -->\n```ts\nconst a = 1\n```\n'
  t.same(embedsOf(text), [{ file: 'a.ts', block: 'const a = 1\n' }])
  t.same(embedsOf('<!-- embed: a.ts -->\nno block\n'), [{ file: '<!-- embed: a.ts -->', block: undefined }])
})
