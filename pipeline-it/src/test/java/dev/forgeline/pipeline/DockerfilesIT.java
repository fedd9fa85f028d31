package dev.forgeline.pipeline;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docker/*.Dockerfile against {@link DockerfileLint}: after {@code mvn package} (this module is the
 * reactor's last, so every service's target/quarkus-app exists), each Dockerfile's COPY sources
 * exist and it passes the lint. The rest break a real Dockerfile in memory and expect the lint to
 * say so, so the check can fail.
 */
class DockerfilesIT {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path DOCKER = ROOT.resolve("docker");

    @Test
    void oneDockerfilePerServiceAndCudaForTrainerAndGateway() throws IOException {
        Set<String> expected = new TreeSet<>();
        for (String s : DockerfileLint.SERVICES) {
            expected.add(s + ".Dockerfile");
        }
        for (String s : DockerfileLint.CUDA_SERVICES) {
            expected.add(s + "-cuda.Dockerfile");
        }
        assertEquals(expected, dockerfiles());
    }

    @Test
    void everyDockerfilePassesTheLint() throws IOException {
        List<String> failures = new ArrayList<>();
        for (String name : dockerfiles()) {
            for (String problem : DockerfileLint.check(ROOT, name, Files.readString(DOCKER.resolve(name)))) {
                failures.add("docker/" + name + ": " + problem);
            }
        }
        assertTrue(failures.isEmpty(), "Dockerfile lint:\n" + String.join("\n", failures));
    }

    @Test
    void theLintCatchesBrokenDockerfiles() throws IOException {
        expectProblem("gateway.Dockerfile", t -> t.replace("jre-jammy", "latest"), "latest");
        expectProblem("gateway.Dockerfile", t -> t.replace("FROM eclipse-temurin:17.0.16_8-jre-jammy",
                "FROM eclipse-temurin"), "no tag");
        expectProblem("gateway.Dockerfile", t -> t.replace("USER 10001:10001", "USER root"), "USER");
        expectProblem("gateway.Dockerfile", t -> t.replace("USER 10001:10001\n", ""), "no USER");
        expectProblem("gateway.Dockerfile", t -> t.replace("EXPOSE 8000", "EXPOSE 8080"), "EXPOSE");
        expectProblem("gateway.Dockerfile", t -> t.replace("/q/health/live", "/q/health"), "HEALTHCHECK");
        expectProblem("gateway.Dockerfile", t -> t.replace("HEALTHCHECK", "# HEALTHCHECK")
                .replace("  CMD [\"bash\"", "# CMD [\"bash\""), "HEALTHCHECK");
        expectProblem("gateway.Dockerfile", t -> swapLines(t, "COPY gateway/target/quarkus-app/lib/",
                "COPY gateway/target/quarkus-app/app/"), "in this order");
        expectProblem("gateway.Dockerfile", t -> t.replace("gateway/target/quarkus-app/quarkus/",
                "gateway/target/quarkus-app/missing/"), "does not exist");
        expectProblem("gateway.Dockerfile", t -> t + "ADD https://example.com/x.tar.gz /tmp/\n", "ADD");
        expectProblem("gateway.Dockerfile", t -> t.replace("-XX:MaxRAMPercentage=75", "-Xmx1g"), "MaxRAMPercentage");
        expectProblem("gateway.Dockerfile", t -> t.replace("\"-Dai.djl.offline=true\", ", ""), "ai.djl.offline");
        expectProblem("gateway.Dockerfile", t -> t.replace("DJL_CACHE_DIR=/tmp/djl", "DJL_CACHE_DIR=/root/.djl"),
                "DJL_CACHE_DIR");
        expectProblem("gateway.Dockerfile", t -> t.replace("forgeline/gateway\"", "forgeline/gw\""), "title");
        expectProblem("gateway-cuda.Dockerfile", t -> t.replace("PYTORCH_FLAVOR=cu128", "PYTORCH_FLAVOR=cu126"),
                "PYTORCH_FLAVOR");
        expectProblem("gateway-cuda.Dockerfile", t -> t.replace("--no-install-recommends ", ""), "DL3015");
        expectProblem("gateway-cuda.Dockerfile", t -> t.replace("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n", ""),
                "pipefail");
    }

    private static void expectProblem(String file, UnaryOperator<String> breakIt, String expected) throws IOException {
        String text = Files.readString(DOCKER.resolve(file));
        String broken = breakIt.apply(text);
        assertFalse(broken.equals(text), "the test did not change " + file + " (looking for '" + expected + "')");
        List<String> problems = DockerfileLint.check(ROOT, file, broken);
        assertTrue(problems.stream().anyMatch(p -> p.contains(expected)),
                "broken " + file + ": expected a problem mentioning '" + expected + "', got " + problems);
    }

    private static String swapLines(String text, String a, String b) {
        List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
        int i = -1;
        int j = -1;
        for (int k = 0; k < lines.size(); k++) {
            if (lines.get(k).startsWith(a)) {
                i = k;
            } else if (lines.get(k).startsWith(b)) {
                j = k;
            }
        }
        if (i < 0 || j < 0) {
            return text;
        }
        String tmp = lines.get(i);
        lines.set(i, lines.get(j));
        lines.set(j, tmp);
        return String.join("\n", lines);
    }

    private static Set<String> dockerfiles() throws IOException {
        try (Stream<Path> files = Files.list(DOCKER)) {
            return new TreeSet<>(files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".Dockerfile")).toList());
        }
    }
}
