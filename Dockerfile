# haproxy-sidecar: the sidecar and Debian's HAProxy in one image, tini as PID 1, a non-root user.
#
# No Docker engine runs on our development and CI machines, so this file is not built there. Every
# step it takes is one those machines run for real on every test run: `npm ci`, `npm run build`
# (tsc, and esbuild for the dashboard page), Debian bookworm's `haproxy` from apt, and
# `node dist/cli.js serve`. Only the Docker plumbing around them (tini, setcap, the user) is
# untested here.
#
#   docker build -t haproxy-sidecar .
#   docker run -p 80:80 -p 8080:8080 haproxy-sidecar
#   docker run haproxy-sidecar serve --help

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY ui ./ui
COPY scripts/build-ui.js ./scripts/
RUN npm run build

FROM node:20-bookworm-slim
# setcap lets HAProxy bind ports below 1024 without running as root; libcap2-bin is removed after.
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy tini libcap2-bin \
 && setcap 'cap_net_bind_service=+ep' /usr/sbin/haproxy \
 && apt-get purge -y libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY templates ./templates
COPY haproxy/bootstrap.cfg ./haproxy/bootstrap.cfg
# /shared: the volume an adopted HAProxy and the sidecar share (haproxy/README.md); an empty named
# volume mounted there takes this directory's owner, so user node can write it.
# Two malloc arenas and a fixed mmap threshold, as the bin's first line sets them (src/cli.ts): less
# memory held by pool threads, and blocks of 128 KiB or more (the store's and the maps' buffers)
# given back to the system when freed.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
RUN printf '#!/bin/sh\nexec node --max-semi-space-size=1 --heap-growing-percent=50 /app/dist/cli.js "$@"\n' > /usr/local/bin/haproxy-sidecar \
 && chmod 755 /usr/local/bin/haproxy-sidecar \
 && mkdir -p /var/lib/haproxy-sidecar /shared \
 && chown node:node /var/lib/haproxy-sidecar /shared

# The documented defaults (README.md, Configuration), with the state in a volume. Override any of them with -e.
ENV STATE_DIR=/var/lib/haproxy-sidecar \
    LISTEN_ADDRESS=0.0.0.0:8080 \
    BIND_ADDRESS=* \
    DEFAULT_PORTS=80 \
    SERVICE_NAME=proxy \
    PROXY_INSTANCE_NAME=docker-flow \
    LOG_LEVEL=info
VOLUME /var/lib/haproxy-sidecar
EXPOSE 80 8080

USER node
# /healthz is liveness: 200 while HAProxy serves the last good config, even when Consul is down (a
# store outage must not make Swarm replace proxies that serve traffic); 503 when HAProxy does not
# serve or its master does not answer. Readiness is /readyz. Node's own fetch: no curl here.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.LISTEN_ADDRESS || '0.0.0.0:8080').split(':').pop(); fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# tini reaps HAProxy's old workers' zombies and forwards SIGTERM to the sidecar, which stops HAProxy.
ENTRYPOINT ["/usr/bin/tini", "--", "haproxy-sidecar"]
CMD ["serve"]
