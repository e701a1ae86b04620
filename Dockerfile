# One image for the API and the workers (compose picks the command).
# Build: compile TypeScript to dist/ with the dev toolchain.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Toolchain of the optional native kernels (node-gyp: python3, make, g++; Node's headers come with the image).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json binding.gyp ./
COPY native ./native
# The install script builds build/Release/tsnn_kernels.node (AVX-512 and AVX2 kernels, picked at run time).
RUN npm ci --no-audit --no-fund \
 && mkdir -p native-out && (cp build/Release/tsnn_kernels.node native-out/ 2>/dev/null || true)
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
# tsc, then the non-TypeScript assets (dashboard files) beside the compiled modules (scripts/copy-assets.mjs).
RUN npm run build

# Runtime: production dependencies and compiled JavaScript only, as the unprivileged `node` user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/build.mjs ./native/build.mjs
# No toolchain here: the native kernels come from the build stage (TSNN_NATIVE=skip: no build attempt).
RUN TSNN_NATIVE=skip npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/native-out ./build/Release
COPY openapi ./openapi
# The local blob store (DATA_DIR) and the workers' blob cache; compose mounts a volume here.
RUN mkdir -p /data/blobs /data/blob-cache && chown -R node:node /data
USER node
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The worker service overrides this with: node dist/workers/main.js
CMD ["node", "dist/src/server.js"]
