# Three stages from one file: `build` compiles, `migrate` applies the migrations (a one-shot job),
# `runtime` (the default, last) serves. Node 24 is an LTS line, maintained until April 2028, and one
# the project is tested on (package.json "engines", docs/operations.md).
ARG NODE_IMAGE=node:24-trixie-slim

# Every dependency; the Prisma client generated (postinstall) and compiled with the rest into dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# `npm run db:migrate` needs Prisma's CLI and the offline schema-engine shim (scripts/), which are
# development dependencies: this stage is the build stage, run once before the service starts.
FROM build AS migrate
ENV CHECKPOINT_DISABLE=1
USER node
CMD ["npm", "run", "db:migrate"]

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/var/lib/latchkey
COPY package.json package-lock.json ./
# Production dependencies only. The client is already generated and compiled, so no postinstall;
# and the devDependencies section goes too, or npm would still install Prisma's CLI (and TypeScript)
# as optional peers of @prisma/client, which `--omit=dev` alone keeps.
RUN npm pkg delete devDependencies scripts.postinstall \
 && npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p "$DATA_DIR" && chown node:node "$DATA_DIR"
COPY --from=build /app/dist ./dist
# Read at start, to check that the database has every migration (and applied in embedded mode).
COPY prisma/migrations ./prisma/migrations
# The image's own unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]
