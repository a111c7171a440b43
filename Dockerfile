# The gateway as `npm run build` makes it, run by plain Node with production dependencies only.

# --- build: every dependency, then compile src/ to dist/ (type-checked) and prebuild the demo page.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
# postinstall: patch-package fixes the database driver (see patches/README.md), then scripts/postinstall.js
# (which, without src/, does nothing more).
COPY patches patches
COPY scripts/postinstall.js scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.server.json ./
COPY scripts scripts
COPY src src
# The demo page bundles the client package's hooks; the gateway's build copies its persisted-documents manifest.
COPY packages/client/src packages/client/src
RUN npm run build

# --- runtime: production dependencies (patched the same way) and the build output, nothing else.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
COPY patches patches
COPY scripts/postinstall.js scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
# The journal of unrecorded submissions (and PGlite without DATABASE_URL) lives in DATA_DIR: the only
# place the gateway writes, owned by the unprivileged user. Mount a volume there to keep it.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
# The image has no curl or wget; Node's fetch does the same.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node itself as PID 1, not npm: SIGTERM reaches the gateway, which drains before it exits.
CMD ["node", "dist/main.js"]
