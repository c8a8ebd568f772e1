# One image; the command picks the role: all (default) | serve | worker | migrate | check | report | grant …
# Without Docker, scripts/image-dry-run.sh replays this file in chroots on the host and smoke-tests the result.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Toolchain for better-sqlite3, which compiles from source when its prebuilt binary cannot be downloaded.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
# → dist/src (main.js) and dist/migrations (imported by dist/src/store/migrate.js). dev/ (test doubles, the demo), test/
# and bench/ are not copied, and tsconfig.build.json compiles src/ and migrations/ only.
RUN npx tsc -p tsconfig.build.json
# Production dependencies only (tsx, for `npm run db-access` from source and `npm run demo`, is a dev dependency:
# dist/ never loads it). Then what nothing loads at run time: type declarations, source maps, and better-sqlite3's
# C sources and build intermediates (only build/Release/better_sqlite3.node is loaded).
RUN npm prune --omit=dev --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && mv node_modules/better-sqlite3/build/Release/better_sqlite3.node ./better_sqlite3.node \
 && rm -rf node_modules/better-sqlite3/build node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && mkdir -p node_modules/better-sqlite3/build/Release \
 && mv ./better_sqlite3.node node_modules/better-sqlite3/build/Release/ \
 && node -e "new (require('better-sqlite3'))(':memory:').close()" \
 && node dist/src/main.js --help > /dev/null

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
# The default DATABASE_URL, sqlite:./data/db-access.sqlite, is /app/data: the only path the node user may write
# (mount a volume there to keep it). SQLite is for one process; replicas need PostgreSQL or MySQL, and then the
# image writes nothing, so a read-only root filesystem works.
RUN mkdir -p data && chown node:node data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["all"]
