# syntax=docker/dockerfile:1
# forgeline/gateway:0.1.0-cuda -- the gateway on NVIDIA's CUDA 12.8 runtime with libtorch 2.7.1+cu128.
# Build context: the repository root, after a `-Pcuda` package (docker/README.md):
#   mvn -B package -Pcuda -DskipTests
#   docker build -f docker/gateway-cuda.Dockerfile -t forgeline/gateway:0.1.0-cuda .
# Maven Central has no DJL CUDA libtorch for PyTorch 2.7.1 (pytorch-native-cu* stop at 2.5.1), so
# -Pcuda only drops pytorch-native-cpu from the app and this image brings PyTorch's own libtorch
# 2.7.1+cu128; DJL loads it from PYTORCH_LIBRARY_PATH and takes its cu128 JNI library from the
# pytorch-jni jar (jnilib/linux-x86_64/cu128/libdjl_torch.so).

# ---- stage 1: libtorch 2.7.1+cu128 (cxx11 ABI, with its CUDA/cuDNN dependencies) ----
# Keeps the libraries DJL's own pytorch-native-cu* jars carry (same name patterns).
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 AS libtorch
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu128/libtorch-cxx11-abi-shared-with-deps-2.7.1%2Bcu128.zip
# optional: the zip's sha256, checked when given (--build-arg LIBTORCH_SHA256=...)
ARG LIBTORCH_SHA256=
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/* \
 && curl -fsSL -o /tmp/libtorch.zip "$LIBTORCH_URL" \
 && if [ -n "$LIBTORCH_SHA256" ]; then echo "$LIBTORCH_SHA256  /tmp/libtorch.zip" | sha256sum -c -; fi \
 && unzip -q /tmp/libtorch.zip -d /tmp \
 && mkdir -p /opt/libtorch/lib \
 && find /tmp/libtorch/lib -maxdepth 1 \( -name 'libc10*' -o -name 'libcaffe2_nvrtc*' -o -name 'libcu*' \
      -o -name 'libgomp*' -o -name 'libnv*' -o -name 'libtorch.so*' -o -name 'libtorch_cpu.so*' \
      -o -name 'libtorch_cuda*.so*' \) -exec cp -a {} /opt/libtorch/lib/ \; \
 && test -f /opt/libtorch/lib/libtorch.so && test -f /opt/libtorch/lib/libtorch_cuda.so \
 && rm -rf /tmp/libtorch /tmp/libtorch.zip

# ---- stage 2: the service ----
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

LABEL org.opencontainers.image.title="forgeline/gateway" \
      org.opencontainers.image.version="0.1.0-cuda" \
      org.opencontainers.image.description="Forgeline gateway (Quarkus fast-jar, CUDA 12.8, libtorch 2.7.1+cu128)"

# The same Temurin JRE 17 as the CPU images
COPY --from=eclipse-temurin:17.0.16_8-jre-jammy /opt/java/openjdk /opt/java/openjdk
COPY --from=libtorch /opt/libtorch/lib /opt/libtorch/lib

# uid/gid 10001: the k8s manifests run as 10001 (runAsUser, runAsNonRoot needs a numeric USER).
RUN groupadd --system --gid 10001 forgeline \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp/home --shell /usr/sbin/nologin forgeline \
 && mkdir -p /deployments /data/forge \
 && chown 10001:10001 /data/forge

ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:$PATH \
    HOME=/tmp/home \
    DJL_CACHE_DIR=/tmp/djl \
    ENGINE_CACHE_DIR=/tmp/djl \
    HF_HOME=/tmp/huggingface \
    FORGE_ARTIFACTS_ROOT=/data/forge \
    PYTORCH_LIBRARY_PATH=/opt/libtorch/lib \
    PYTORCH_VERSION=2.7.1 \
    PYTORCH_FLAVOR=cu128 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    JDK_JAVA_OPTIONS="-XX:MaxRAMPercentage=75"

WORKDIR /deployments

COPY gateway/target/quarkus-app/lib/ /deployments/lib/
# built without -Pcuda, the app would also carry the 111 MB CPU libtorch: refuse it
RUN if ls /deployments/lib/main/ai.djl.pytorch.pytorch-native-cpu-* >/dev/null 2>&1; then \
      echo "pytorch-native-cpu in gateway/target/quarkus-app/lib: package with -Pcuda" >&2; exit 1; fi
COPY gateway/target/quarkus-app/app/ /deployments/app/
COPY gateway/target/quarkus-app/quarkus/ /deployments/quarkus/
COPY gateway/target/quarkus-app/quarkus-run.jar /deployments/quarkus-run.jar

USER 10001:10001
EXPOSE 8000

# No curl in the image: bash's /dev/tcp sends one HTTP request to the liveness endpoint and
# passes only on a 200 status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /q/health/live HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["java", "--add-modules=jdk.incubator.vector", "-Dai.djl.offline=true", "-jar", "/deployments/quarkus-run.jar"]
