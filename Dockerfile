# syntax=docker/dockerfile:1
# One app node for cluster mode (DATABASE_URL + REDIS_URL); see docker-compose.yml.
# Two stages: the first installs everything and compiles (npm run build → dist/), the second holds
# production dependencies and the compiled JavaScript only. test/packaging.test.ts replays both
# stages outside Docker (it understands FROM, WORKDIR, ENV, COPY, RUN, USER, EXPOSE and CMD).

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json knexfile.ts ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
COPY seeds ./seeds
COPY console ./console
RUN npm run build

FROM node:22-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Production dependencies only: no devDependencies, so neither embedded-postgres nor its
# PostgreSQL binaries (cluster mode needs neither). Install scripts are not run: no production
# dependency needs one (@node-rs/bcrypt ships its binary prebuilt). The npm cache is a build
# cache mount, never a layer of the image.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist

# Cluster mode needs no writable state; run unprivileged (the image's `node` user, uid 1000).
USER node
EXPOSE 3000

# node itself is PID 1's command (no npm or npx wrapper, which would not pass SIGTERM on), so
# `docker stop` reaches the graceful shutdown.
CMD ["node", "--enable-source-maps", "dist/src/main.js"]
