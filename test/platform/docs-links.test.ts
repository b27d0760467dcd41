// Every relative link in the Markdown docs leads somewhere: the file exists inside the repository,
// and an anchor names a heading of the page it points at. Reads files only; no services.
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

/** The text outside fenced code blocks, line by line (links and headings in code are examples). */
function proseLines(text: string): string[] {
  let fenced = false
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      return false
    }
    return !fenced
  })
}

/** GitHub's anchors for a page's headings: lowercased, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(fs.readFileSync(file, 'utf8'))) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
    seen.set(slug, count + 1)
  }
  return anchors
}

/** Inline links and images, `[text](target)`, outside code. */
function linksOf(text: string): string[] {
  const links: string[] = []
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(match[1]!)
  }
  return links
}

for (const page of pages) {
  t.test(page, async (t) => {
    const file = path.join(root, page)
    const broken: string[] = []
    for (const link of linksOf(fs.readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // http:, https:, mailto:
      const [target = '', anchor] = link.split('#', 2)
      const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target))
      if (path.relative(root, resolved).startsWith('..')) {
        broken.push(`${link}: outside the repository`)
      } else if (!fs.existsSync(resolved)) {
        broken.push(`${link}: no such file`)
      } else if (anchor !== undefined && !(resolved.endsWith('.md') && anchorsOf(resolved).has(anchor))) {
        broken.push(`${link}: no heading with this anchor`)
      }
    }
    t.same(broken, [], 'every relative link resolves')
  })
}
