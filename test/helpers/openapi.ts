import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import formats from 'ajv-formats'
import { parse } from 'yaml'
import type { App } from '../../src/app.js'

// The OpenAPI document as tests read it: the checked-in file, the routes the app really has, and a
// checker that holds every response to the schema documented for its status.

export const OPENAPI_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../openapi.yaml')

export interface Operation {
  tags?: string[]
  summary?: string
  description?: string
  security?: Record<string, string[]>[]
  parameters?: { in: string; name: string }[]
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>
}

export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

export async function readCheckedInDocument(): Promise<{ text: string; document: OpenApiDocument }> {
  const text = await fs.readFile(OPENAPI_PATH, 'utf8')
  return { text, document: parse(text) as OpenApiDocument }
}

/** `METHOD /path/{param}` of every route the app answers, from Fastify's own route tree; HEAD routes left out. */
export function registeredRoutes(app: App): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    const url = stack.join('').replace(/:(\w+)/g, '{$1}')
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      if (method !== 'HEAD') routes.push(`${method} ${url}`)
    }
  }
  return routes
}

export const operationsOf = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([url, methods]) => Object.entries(methods).map(([method, operation]) => ({
    key: `${method.toUpperCase()} ${url}`, method: method.toUpperCase(), url, operation,
  })))

const COMPONENTS = 'https://latchkey.test/components/'

/** A copy of a schema whose component references point where the validator keeps the components. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase)
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [
    key, key === '$ref' && typeof value === 'string' ? value.replace('#/components/schemas/', COMPONENTS) : rebase(value),
  ]))
}

/** A validator for the document's schemas (JSON Schema 2020-12, as OpenAPI 3.1 has them), $refs resolved. */
export function schemaValidator(document: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  formats.default(ajv)
  for (const [name, schema] of Object.entries(document.components.schemas)) ajv.addSchema(rebase(schema) as object, `${COMPONENTS}${name}`)
  const compiled = new Map<unknown, ValidateFunction>()
  return (schema: unknown, value: unknown): string | null => {
    let validate = compiled.get(schema)
    if (!validate) compiled.set(schema, validate = ajv.compile(rebase(schema) as object))
    return validate(value) ? null : ajv.errorsText(validate.errors)
  }
}

/**
 * Calls routes and checks each answer against the document: its status must be documented for the
 * operation, and its body must fit the schema documented for that status (or be empty, when the
 * document says there is none). Remembers which statuses were seen, for `unseen()`.
 */
export class ContractChecker {
  constructor(
    private readonly app: App,
    readonly document: OpenApiDocument,
    readonly seen = new Set<string>(),
    private readonly validate = schemaValidator(document),
  ) {}

  /**
   * The same checks on another app (another configuration), counting towards the same `seen`, with
   * the validators already compiled for the document.
   */
  on(app: App): ContractChecker {
    return new ContractChecker(app, this.document, this.seen, this.validate)
  }

  /** `route` is the operation as the document names it ("POST /api/v1/admin/accounts/{id}/disable"). */
  async call(t: Test, route: string, expected: number, request: Omit<InjectOptions, 'method'> = {}): Promise<LightMyRequestResponse> {
    const [method, template] = route.split(' ') as [string, string]
    const url = request.url ?? template
    const response = await this.app.inject({ ...request, method: method as InjectOptions['method'], url })
    const label = `${route} → ${response.statusCode}`
    t.equal(response.statusCode, expected, `${route}: ${expected} (${response.body.slice(0, 200)})`)
    this.check(t, route, response, label)
    return response
  }

  check(t: Test, route: string, response: LightMyRequestResponse, label: string) {
    const [method, template] = route.split(' ') as [string, string]
    const operation = this.document.paths[template]?.[method.toLowerCase()]
    if (!operation) return t.fail(`${label}: the operation is not in the document`)
    const documented = operation.responses[String(response.statusCode)]
    if (!documented) return t.fail(`${label}: status ${response.statusCode} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`)
    this.seen.add(`${route} ${response.statusCode}`)
    if (!documented.content) {
      t.equal(response.body, '', `${label}: no body, as documented`)
      return
    }
    const mediaType = String(response.headers['content-type'] ?? '').split(';')[0]!.trim()
    const media = documented.content[mediaType]
    if (!media) return t.fail(`${label}: content type "${mediaType}" is not documented (${Object.keys(documented.content).join(', ')})`)
    const body = mediaType === 'application/json' ? response.json<unknown>() : response.body
    const problem = this.validate(media.schema, body)
    t.equal(problem, null, `${label}: the body fits the documented schema`)
  }

  /** Documented statuses no call has answered with, as "METHOD /path status". */
  unseen(filter: (status: number) => boolean = () => true): string[] {
    return operationsOf(this.document).flatMap(({ key, operation }) => Object.keys(operation.responses)
      .filter((status) => filter(Number(status)) && !this.seen.has(`${key} ${status}`))
      .map((status) => `${key} ${status}`))
  }
}
