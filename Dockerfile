# smq image: one image for every role (worker, reconciler, dashboard, up); the compose file picks
# the role with the command. Sources run through tsx, so there is no build step.
FROM node:20-bookworm-slim

RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .

ENV NODE_ENV=production
# tini forwards SIGTERM to node, so workers get their graceful shutdown on `docker stop`.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/smq.js", "--help"]
