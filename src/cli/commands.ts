// The commands of `npm run cli` (src/cli/main.ts), callable with any arguments, environment and streams.
import { normalizeEmail } from '../core/emails.js'
import { recordAudit } from '../core/audit.js'
import { CLI_ACTOR } from '../core/admin/common.js'
import type { ClientMetadataInput } from '../core/client-metadata.js'
import { holdsRefusedCharacter } from '../core/display-names.js'
import { OPERATOR_ROLE } from '../core/operators.js'
import { runCommand, withCore, type CliIo } from './context.js'
import { readSecret } from './read-secret.js'

const USAGE = `Usage: npm run cli -- <command>

Commands:
  unlock <email>           Clear the login lockout of an email (both known-IP and other attempts)
  reset-factors <email>    Remove every second factor (TOTP, recovery codes, passkeys) of an account whose owner
                           lost them; it logs in with its password alone until it enrolls again
  register-client <name>   Register a confidential OAuth client (for introspection); prints its secret once
  register-client --metadata '<json>'
                           Register a client from RFC 7591 metadata (client_name, redirect_uris,
                           grant_types, token_endpoint_auth_method, scope, resources, first_party, ...),
                           checked as the admin API checks it; prints it, with its secret once
  create-admin <email> [name]
                           Create an operator: an account with Latchkey's operator role
                           (latchkey:operator), which the admin API and introspection require.
                           The password is read from standard input (piped, or typed without echo),
                           never from the command line
  grant-operator <email>   Give an existing account the operator role too (its other roles stay;
                           it logs in with role "latchkey:operator" to operate)
  rotate-keys              Start a signing-key rotation: the next key is published now and signs later
  prune                    Delete now, in batches, what nothing can use any more (ended sessions and
                           their refresh tokens, expired authorization codes, ended browser
                           sessions, expired revocations, audit events and login addresses past
                           their retention); prints how many rows of each kind`

/** The JSON of --metadata, as an object with a client_name; a clear error otherwise. */
function parseMetadata(json: string | undefined): ClientMetadataInput {
  let parsed: unknown
  try {
    parsed = JSON.parse(json ?? '')
  } catch {
    throw new Error('--metadata needs RFC 7591 client metadata as one JSON object, e.g. \'{"client_name":"Shop","token_endpoint_auth_method":"none"}\'')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { client_name?: unknown }).client_name !== 'string') {
    throw new Error('--metadata must be a JSON object with a client_name')
  }
  return parsed as ClientMetadataInput
}

/** Runs one command of `npm run cli -- <command> [args]` to its exit code. */
export function latchkeyCli([command, ...args]: string[], io: CliIo): Promise<number> {
  const print = (text: string) => io.stdout.write(`${text}\n`)
  return runCommand(async () => {
    switch (command) {
      case 'unlock': {
        const email = args[0]
        if (!email) throw new Error('unlock needs an email')
        const normalized = normalizeEmail(email)
        await withCore(io, async (core, database) => {
          await core.lockout.unlock(normalized)
          const account = await database.prisma.account.findUnique({ where: { email: normalized }, select: { id: true } })
          await recordAudit(database.prisma, { type: 'lockout.unlocked', accountId: account?.id, data: { email: normalized, by: 'cli' } })
        })
        print(`Unlocked ${normalized}`)
        return
      }
      case 'reset-factors': {
        const email = args[0]
        if (!email) throw new Error('reset-factors needs an email')
        const normalized = normalizeEmail(email)
        const removed = await withCore(io, async (core, database) => {
          const found = await database.prisma.account.findUnique({ where: { email: normalized }, select: { id: true } })
          if (!found) throw new Error(`No account has the email ${normalized}`)
          return core.mfa.factors.reset(found.id, CLI_ACTOR)
        })
        print(removed ? `Second factors of ${normalized} removed` : `${normalized} had no second factor`)
        return
      }
      case 'register-client': {
        const metadata = args[0] === '--metadata' ? parseMetadata(args[1]) : undefined
        const name = args.join(' ').trim()
        if (!metadata && !name) throw new Error('register-client needs a name, or --metadata with RFC 7591 client metadata as JSON')
        const client = await withCore(io, (core) => core.clients.register(metadata ?? name, CLI_ACTOR))
        print(JSON.stringify({
          client_id: client.id, ...(client.secret === null ? {} : { client_secret: client.secret }), name: client.name,
          token_endpoint_auth_method: client.tokenEndpointAuthMethod, grant_types: client.grantTypes, redirect_uris: client.redirectUris,
          scope: client.scope, resources: client.resources, first_party: client.firstParty,
        }))
        if (client.secret !== null) io.stderr.write('Store the client_secret now: it is shown only this once.\n')
        return
      }
      case 'create-admin': {
        const [email, ...words] = args
        if (!email) throw new Error('create-admin needs an email')
        const name = words.join(' ').trim() || null
        // The rule of the admin API and sign-up (src/core/display-names.ts), checked before asking for the password.
        if (name !== null && holdsRefusedCharacter(name)) throw new Error('The name may not hold control, line-break or bidirectional formatting characters')
        const password = await readSecret(`Password for ${email}: `, io)
        const account = await withCore(io, async (core) => {
          // The rules of every other way a password is set (src/core/password-policy.ts).
          const problems = core.passwordPolicy.problems(password)
          if (problems.length > 0) throw new Error(problems.join(' '))
          return core.admin.accounts.create({ email, password, name, roles: [OPERATOR_ROLE] }, CLI_ACTOR)
        })
        print(`Created operator ${account.email} (${account.id}); log in with role "${OPERATOR_ROLE}"`)
        return
      }
      case 'grant-operator': {
        const email = args[0]
        if (!email) throw new Error('grant-operator needs an email')
        const account = await withCore(io, async (core, database) => {
          const found = await database.prisma.account.findUnique({ where: { email: normalizeEmail(email) }, select: { id: true } })
          if (!found) throw new Error(`No account has the email ${normalizeEmail(email)}`)
          const current = await core.admin.accounts.get(found.id)
          if (current.roles.includes(OPERATOR_ROLE)) return current
          return core.admin.accounts.setRoles(found.id, [...current.roles, OPERATOR_ROLE], CLI_ACTOR)
        })
        print(`${account.email} (${account.id}) is an operator; log in with role "${OPERATOR_ROLE}"`)
        return
      }
      case 'rotate-keys': {
        const next = await withCore(io, (core) => core.admin.keys.rotate(CLI_ACTOR))
        print(JSON.stringify({ kid: next.kid, activates_at: next.activatesAt.toISOString() }))
        return
      }
      case 'prune': {
        const counts = await withCore(io, (core) => core.pruning.pruneNow())
        print(JSON.stringify(counts))
        return
      }
      case undefined: case 'help': case '--help':
        print(USAGE)
        return
      default:
        throw new Error(`Unknown command "${command}".\n${USAGE}`)
    }
  }, io)
}
