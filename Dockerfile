# voicebot: multi-stage build.
#   docker build -t voicebot .                       # CPU image, whisper.cpp with AVX2 (target runtime)
#   docker build --target runtime-cuda -t voicebot:cuda .   # whisper.cpp with GGML_CUDA=1
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_DEVEL=nvidia/cuda:12.6.3-devel-ubuntu24.04
ARG CUDA_RUNTIME=nvidia/cuda:12.6.3-runtime-ubuntu24.04

# ---------------------------------------------------------------- dependencies (no install scripts yet)
FROM ${NODE_IMAGE} AS deps
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 make g++ cmake git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# the workspace package's manifest: npm ci links it (node_modules/@voicebot/jambonz-adapter) and links the root as
# node_modules/voicebot, which is how the built adapter reaches the core's public entry points (package.json exports)
COPY jambonz-adapter/package.json ./jambonz-adapter/
# scripts off: smart-whisper's default build lacks AVX2; scripts/build-whisper.mjs builds it properly below
RUN npm ci --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------- compile TypeScript, build whisper.cpp (AVX2)
FROM deps AS build
COPY . .
RUN npm run build \
    && node scripts/build-whisper.mjs --force \
    && npm prune --omit=dev --ignore-scripts

# ---------------------------------------------------------------- CPU runtime (default)
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      espeak-ng ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# pages served by the web server, the sample config, and the Silero VAD model (MIT, see models/README.md)
COPY --from=build /app/src/web/public ./dist/src/web/public
COPY --from=build /app/examples ./examples
COPY --from=build /app/models/silero_vad_v5.onnx /app/models/README.md ./models/
RUN mkdir -p /app/models /app/recordings /app/data && chown -R node:node /app/models /app/recordings /app/data
USER node
ENV NODE_ENV=production \
    VOICEBOT_CONFIG=/app/examples/support-line.yaml \
    VOICEBOT_SPEECH__VAD__MODEL_PATH=/app/models/silero_vad_v5.onnx \
    VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_DIR=/app/models \
    VOICEBOT_TELEPHONY__ASTERISK__RECORDING__DIR=/app/recordings
EXPOSE 3000/tcp 20000-20199/udp
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["start"]

# ---------------------------------------------------------------- CUDA build: whisper.cpp with GGML_CUDA=1
FROM ${CUDA_DEVEL} AS build-cuda
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 make g++ cmake git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
COPY --from=deps /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
ENV CUDA_PATH=/usr/local/cuda GGML_CUDA=1
RUN npm run build \
    && node scripts/build-whisper.mjs --cuda --force \
    && npm prune --omit=dev --ignore-scripts

# ---------------------------------------------------------------- CUDA runtime
FROM ${CUDA_RUNTIME} AS runtime-cuda
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      espeak-ng ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1001 node
COPY --from=build-cuda /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build-cuda /app/package.json ./
COPY --from=build-cuda /app/node_modules ./node_modules
COPY --from=build-cuda /app/dist ./dist
COPY --from=build-cuda /app/src/web/public ./dist/src/web/public
COPY --from=build-cuda /app/examples ./examples
COPY --from=build-cuda /app/models/silero_vad_v5.onnx /app/models/README.md ./models/
RUN mkdir -p /app/models /app/recordings /app/data && chown -R node:node /app/models /app/recordings /app/data
USER node
ENV NODE_ENV=production \
    VOICEBOT_CONFIG=/app/examples/support-line.yaml \
    VOICEBOT_SPEECH__VAD__MODEL_PATH=/app/models/silero_vad_v5.onnx \
    VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_DIR=/app/models \
    VOICEBOT_SPEECH__ASR__WHISPER_CPP__DEVICE=cuda \
    VOICEBOT_TELEPHONY__ASTERISK__RECORDING__DIR=/app/recordings
EXPOSE 3000/tcp 20000-20199/udp
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["start"]

# the default target stays the CPU image
FROM runtime
