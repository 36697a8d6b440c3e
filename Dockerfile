# One image for every component: the `filespace` CLI, the metadata service (`filespace meta
# serve`), and later the CSI node plugin and the operator.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 make g++ pkg-config libfuse3-dev libfuse2 fuse3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends fuse3 libfuse3-3 libfuse2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/filespaces
COPY --from=build /src /opt/filespaces
ENTRYPOINT ["node", "/opt/filespaces/cli/bin/filespace.js"]
