# syntax=docker/dockerfile:1
# Grand-challenge style algorithm image: reads /input/images/ct/, writes /output/*.json.
# Build: docker build -t balaitous .        Run: docker run --gpus all -v IN:/input:ro -v OUT:/output balaitous
# Checkpoints placed in checkpoints/ are used as they are; missing ones are downloaded.

# 1. Export the published checkpoints to ONNX with CPU PyTorch.
FROM python:3.11-slim-bookworm AS models
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.3.1 \
    && pip install --no-cache-dir numpy==1.26.4 onnx==1.16.1
WORKDIR /src
COPY tools/ tools/
COPY checkpoints/ /checkpoints/
ENV BALAITOUS_CHECKPOINTS=/checkpoints
# The export only needs Python; the models are verified by the Node build below.
RUN tools/install-models /models

# 2. Install and build the Node.js package, with onnxruntime-node's CUDA 12 provider.
FROM node:20-bookworm-slim AS build
WORKDIR /opt/balaitous
COPY package.json package-lock.json tsconfig.json ./
COPY src/ src/
COPY test/ test/
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
RUN npm ci && npm prune --omit=dev
COPY bin/ bin/
COPY schemas/ schemas/
COPY --from=models /models/ models/
RUN node bin/balaitous.js models verify models

# 3. Runtime: CUDA 12 with cuDNN 9, Node.js 20, non-root.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /opt/balaitous/ /opt/balaitous/
RUN useradd --create-home --uid 1001 user \
    && mkdir -p /input /output && chown user:user /output
USER user
ENV BALAITOUS_MODELS=/opt/balaitous/models
ENTRYPOINT ["node", "/opt/balaitous/bin/balaitous.js", "gc"]
