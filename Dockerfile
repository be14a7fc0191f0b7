# One app node for cluster mode (DATABASE_URL + REDIS_URL); see docker-compose.yml.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

COPY package.json package-lock.json ./
# Dev dependencies included on purpose (NODE_ENV=production would drop them): tsx runs the sources.
RUN npm ci --include=dev && npm cache clean --force

COPY . .

# Cluster mode needs no writable state; run unprivileged.
USER node
EXPOSE 3000

# TypeScript runs through tsx in production for now: one code path for dev, tests and prod, and no
# build step to get out of step with the sources (a `tsc` build to dist/ can replace this later).
# `node --import tsx` rather than `npx tsx`: npx and tsx's own launcher are wrapper processes, and
# npx exits on SIGTERM without passing it on, so `docker stop` would skip our graceful shutdown.
CMD ["node", "--import", "tsx", "src/main.ts"]
