import { fileURLToPath } from 'node:url'

/** Node's arguments to run a TypeScript file of the project as the tests themselves run. */
export const TYPESCRIPT_NODE_ARGS = ['--import', fileURLToPath(new URL('../setup/typescript.mjs', import.meta.url))]
