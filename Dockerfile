# syntax=docker/dockerfile:1
# Grand-challenge algorithm image of Balaitous: reads the scan in /input/images/ct/ and writes
# /output/probability-covid-19.json and /output/probability-severe-covid-19.json.
#
#   docker build -t balaitous .
#   docker run --rm --gpus all --network none -v "$PWD/inputs-example:/input:ro" -v "$PWD/out:/output" balaitous
#
# The published checkpoints come from checkpoints/ (or --build-context checkpoints=DIR), and the
# ones missing there are downloaded. --build-context models=DIR skips the export and takes a
# folder already written by tools/export-models --fp16 (or tools/install-models) instead.
# tools/container-smoke.sh runs the entrypoint as this image does, without Docker.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

# The checkpoints of the build context, as a stage that --build-context checkpoints=DIR replaces.
FROM scratch AS checkpoints
COPY checkpoints/ /

# 1. Export the checkpoints to ONNX, float32 and float16, with CPU PyTorch. Debian 12's
#    python3-torch 1.13 and python3-onnx 1.12 are the versions tools/export-models is tested with.
#    The export takes about 7 GB of memory.
FROM debian:bookworm-slim AS export
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl python3-numpy python3-onnx python3-torch \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY tools/install-models tools/export-models tools/export_models.py tools/
COPY tools/balaitous_export/ tools/balaitous_export/
COPY --from=checkpoints / /checkpoints/
# This stage has no Node.js, so install-models skips the verification; the build stage does it.
RUN BALAITOUS_CHECKPOINTS=/checkpoints tools/install-models /models

# The exported models, as a stage that --build-context models=DIR replaces.
FROM scratch AS models
COPY --from=export /models/ /

# 2. The Node.js package with onnxruntime-node's CUDA 12 provider, and the models, verified.
FROM ${NODE_IMAGE} AS build
WORKDIR /opt/balaitous
COPY package.json package-lock.json ./
# Install scripts are skipped, then onnxruntime-node's runs alone: with ONNXRUNTIME_NODE_INSTALL=cuda12
# it downloads the CUDA provider libraries from NuGet, and the build stops when they are missing.
# The only other install script, protobufjs's, prints version warnings. The binaries for other
# platforms take 220 MB and are removed.
RUN npm ci --ignore-scripts \
    && cd node_modules/onnxruntime-node \
    && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install \
    && test -f bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
    && test -f bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so \
    && rm -rf bin/napi-v6/darwin bin/napi-v6/win32 bin/napi-v6/linux/arm64
# tsconfig.json also compiles test/, which is not copied: only dist/src is built and shipped.
COPY tsconfig.json ./
COPY src/ src/
RUN npm run build && npm prune --omit=dev
COPY bin/ bin/
COPY schemas/ schemas/
COPY tools/check-gpu.mjs tools/
COPY --from=models / models/
RUN node bin/balaitous.js models verify models

# 3. Runtime: CUDA 12 with cuDNN 9 (onnxruntime-node 1.30's CUDA provider is built for CUDA 12.x
#    and cuDNN 9), Node.js 20 and the package, run by a user without privileges.
FROM ${CUDA_IMAGE}
# libvulkan1 lets --device webgpu (Dawn over Vulkan) reach the NVIDIA driver, whose Vulkan files the
# NVIDIA container toolkit mounts only when the graphics capability is requested.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libvulkan1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1001 user \
    && mkdir -p /input /output \
    && chown user:user /output
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
# The official Node.js binary needs only glibc 2.28 and libstdc++, which the runtime image has.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /opt/balaitous/package.json /opt/balaitous/package.json
COPY --from=build /opt/balaitous/bin/ /opt/balaitous/bin/
COPY --from=build /opt/balaitous/dist/src/ /opt/balaitous/dist/src/
COPY --from=build /opt/balaitous/schemas/ /opt/balaitous/schemas/
COPY --from=build /opt/balaitous/tools/ /opt/balaitous/tools/
COPY --from=build /opt/balaitous/node_modules/ /opt/balaitous/node_modules/
COPY --from=build /opt/balaitous/models/ /opt/balaitous/models/
USER user
WORKDIR /home/user
ENV BALAITOUS_MODELS=/opt/balaitous/models
ENTRYPOINT ["node", "/opt/balaitous/bin/balaitous.js", "gc"]
