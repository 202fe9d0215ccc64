# syntax=docker/dockerfile:1
# Driftline on x86-64: one image for the collector and the edge agent (CPU inference).
#   docker build -t driftline:0.1.0 .
#   docker run ... driftline:0.1.0 collector --config /etc/driftline/collector.yaml   (the default)
#   docker run ... driftline:0.1.0 agent --config /etc/driftline/agent.yaml
# Cameras, the healthcheck and volumes: docs/deploy.md, "Containers". On a Jetson: Dockerfile.jetson.
# No image can be pulled on the machines that test this repository: it is checked by
# test/deploy/dockerfile.test.ts (a linter and a structural test), never built there.

# --- deps: production node_modules, native modules compiled here so the runtime needs no compiler.
FROM node:20.20.2-bookworm-slim AS deps
ENV DEBIAN_FRONTEND=noninteractive
# better-sqlite3 downloads a prebuilt binary, and falls back to node-gyp when there is none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# .npmrc keeps onnxruntime-node-install=skip: its CUDA/TensorRT download is not wanted here (CPU).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# --- runtime: Node, ffmpeg and GStreamer for the camera sources, tini as PID 1, no compiler.
FROM node:20.20.2-bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates tini ffmpeg \
       gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    && rm -rf /var/lib/apt/lists/*
# A system user of its own (uid 10001); `video` lets it open /dev/video* passed with --device.
RUN groupadd --system --gid 10001 driftline \
    && useradd --system --uid 10001 --gid driftline --groups video \
       --home-dir /var/lib/driftline --shell /usr/sbin/nologin driftline \
    && install -d -o driftline -g driftline -m 0700 /var/lib/driftline /var/lib/driftline/data
WORKDIR /opt/driftline
COPY --from=deps /build/node_modules ./node_modules
# The sources run as they are, through tsx (bin/driftline.js): there is no build step to ship.
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY lib ./lib
COPY protocol ./protocol
COPY agent ./agent
COPY collector ./collector
COPY models/line-detector.onnx models/line-detector.profile.json models/line-detector.md ./models/
COPY docs/runbook.md ./docs/runbook.md
COPY deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs
ENV NODE_ENV=production
USER driftline:driftline
# Relative store paths (data/agent.db, data/collector.db) land in the volume.
WORKDIR /var/lib/driftline
VOLUME ["/var/lib/driftline"]
# collector: HTTP API, dashboard, /metrics, /healthz (8080); embedded broker (1883). agent: 9464.
EXPOSE 8080 1883 9464
# /healthz of whichever runs: the collector's on 8080, else the agent's on 9464 (DRIFTLINE_HEALTH_URL
# for other ports). Inside the container, so it works with http.host at its default, 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "/opt/driftline/deploy/docker/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "node", "/opt/driftline/bin/driftline.js"]
CMD ["collector", "--config", "/etc/driftline/collector.yaml"]
