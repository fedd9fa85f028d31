package dev.forgeline.trainer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The packaged trainer ({@code target/quarkus-app/quarkus-run.jar}) as a process of its own, for the ITs. */
final class PackagedTrainer {
    static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");

    private PackagedTrainer() {}

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** A trainer on {@code bootstrap} and the store at {@code artifacts}; its output goes to {@code log}; added to {@code started}. */
    static Process start(String bootstrap, Path artifacts, Path log, List<Process> started) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(java(),
                // one torch thread, as in the unit tests: an OpenMP pair stalls on a busy machine
                "-Xmx1g", "-Dai.djl.pytorch.num_threads=1", "-Dquarkus.http.port=0", "-jar", JAR.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("KAFKA_BOOTSTRAP_SERVERS", bootstrap);
        env.put("FORGE_ARTIFACTS_ROOT", artifacts.toString());
        env.put("FORGE_TRAINER_PROGRESS_EVERY", "1");
        env.put("FORGE_TRAINER_DEVICE", "cpu");
        env.put("OMP_NUM_THREADS", "1");
        // a killed replica's partitions move after this; the broker's minimum
        env.put("FORGE_WORKER_SESSION_TIMEOUT", "6s");
        Process p = pb.start();
        started.add(p);
        return p;
    }
}
