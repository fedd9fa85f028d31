# syntax=docker/dockerfile:1
# forgeline/trainer-service:0.1.0 -- the trainer-service on a slim JRE 17, from Quarkus's fast-jar layout.
# Build context: the repository root, after `mvn package` (docker/README.md):
#   mvn -B package -DskipTests
#   docker build -f docker/trainer-service.Dockerfile -t forgeline/trainer-service:0.1.0 .
FROM eclipse-temurin:17.0.16_8-jre-jammy

LABEL org.opencontainers.image.title="forgeline/trainer-service" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.description="Forgeline trainer-service (Quarkus fast-jar, CPU)"

# uid/gid 10001: the k8s manifests run as 10001 (runAsUser, runAsNonRoot needs a numeric USER).
# /data/forge: the default artifact store (k8s mounts its ReadWriteMany volume there).
RUN groupadd --system --gid 10001 forgeline \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp/home --shell /usr/sbin/nologin forgeline \
 && mkdir -p /deployments /data/forge \
 && chown 10001:10001 /data/forge

# Writable places only under /tmp (an emptyDir in k8s; the root filesystem may be read-only):
# DJL extracts libtorch and its JNI library into ENGINE_CACHE_DIR at first start.
ENV HOME=/tmp/home \
    DJL_CACHE_DIR=/tmp/djl \
    ENGINE_CACHE_DIR=/tmp/djl \
    HF_HOME=/tmp/huggingface \
    FORGE_ARTIFACTS_ROOT=/data/forge \
    JDK_JAVA_OPTIONS="-XX:MaxRAMPercentage=75"

WORKDIR /deployments

# Fast-jar layers, least to most often changed: dependencies, the service's own jar, Quarkus's
# generated classes, the launcher. Files stay root-owned and read-only to uid 10001.
COPY trainer-service/target/quarkus-app/lib/ /deployments/lib/
COPY trainer-service/target/quarkus-app/app/ /deployments/app/
COPY trainer-service/target/quarkus-app/quarkus/ /deployments/quarkus/
COPY trainer-service/target/quarkus-app/quarkus-run.jar /deployments/quarkus-run.jar

USER 10001:10001
EXPOSE 8082

# No curl in the JRE image: bash's /dev/tcp sends one HTTP request to the liveness endpoint and
# passes only on a 200 status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8082 && printf 'GET /q/health/live HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# JDK_JAVA_OPTIONS (above) holds the tunable flags; these three are what the service needs:
# the Vector API decode kernel, and DJL never downloading at run time.
ENTRYPOINT ["java", "--add-modules=jdk.incubator.vector", "-Dai.djl.offline=true", "-jar", "/deployments/quarkus-run.jar"]
