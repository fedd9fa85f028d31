package dev.forgeline.trainer;

import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.TrainingRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The broker, a process of its own, is SIGKILLed while the packaged trainer runs a LoRA job and
 * started again on its data {@value #OUTAGE_SECONDS} s later. The job keeps training meanwhile
 * (steps dated inside the outage), ends SUCCEEDED with one registered model, and its per-step losses
 * equal those of the same job run without an outage.
 */
class BrokerOutageIT {
    private static final Path JAR = PackagedTrainer.JAR;
    private static final Duration TIMEOUT = Duration.ofSeconds(240);
    private static final int OUTAGE_SECONDS = 10;
    /** Long enough that training still runs when the broker comes back, on a quiet machine too. */
    private static final int STEPS = 1500;
    private static Path work;
    private static int port;
    private static Process broker;
    private static JobTopics topics;
    private static final List<Process> started = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR.toAbsolutePath() + " is missing: run `mvn package` first");
        work = Files.createTempDirectory("forge-outage-it-");
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        broker = startBroker();
        topics = new JobTopics("127.0.0.1:" + port);
    }

    @AfterAll
    static void stop() {
        if (topics != null) topics.close();
        started.forEach(Process::destroyForcibly);
    }

    private static TrainingRequest.Builder job(String jobId, Path data) {
        return TinyTask.loraJob(jobId, data, STEPS, 10, 120, 11L);
    }

    @Test
    void aJobOutlivesABrokerKilledAndRestarted() throws Exception {
        Path data = TinyTask.writeDataset(work.resolve("data"));
        Path logs = Files.createDirectories(Path.of("target/outage-it"));
        String jobId = "outage-it-" + System.currentTimeMillis();
        String modelId = "ft-" + jobId;

        Process trainer = trainer(logs.resolve("trainer.log"));
        topics.send(job(jobId, data).build());
        JobStatus checkpointed = topics.awaitStatus(jobId, s -> s.checkpoint() != null || s.state().isTerminal(), TIMEOUT);
        assertFalse(checkpointed.state().isTerminal(), "the job finished before the outage; give it more steps");

        Instant down = Instant.now();
        broker.destroyForcibly(); // SIGKILL: no controlled shutdown
        assertTrue(broker.waitFor(20, TimeUnit.SECONDS), "the killed broker exits");
        Thread.sleep(OUTAGE_SECONDS * 1000L);
        broker = startBroker();
        Instant up = Instant.now();

        JobStatus done = topics.awaitTerminal(jobId, TIMEOUT);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        List<JobEvent> events = topics.events(jobId);
        long stepsDuringOutage = events.stream()
                .filter(e -> JobEvent.PROGRESS.equals(e.type()) && e.timestamp().isAfter(down) && e.timestamp().isBefore(up))
                .count();
        assertTrue(stepsDuringOutage > 0, "training went on while the broker was away");
        JobEvent last = events.get(events.size() - 1);
        assertTrue(last.timestamp().isAfter(up), "the job was still running when the broker came back: " + last);

        // the same job with the broker up throughout, on the same trainer
        String referenceId = jobId + "-reference";
        topics.send(job(referenceId, data).build());
        JobStatus reference = topics.awaitTerminal(referenceId, TIMEOUT);
        assertEquals(JobState.SUCCEEDED, reference.state(), () -> "error: " + reference.error());

        TreeMap<Integer, Double> withOutage = JobTopics.stepLosses(events);
        TreeMap<Integer, Double> without = JobTopics.stepLosses(topics.events(referenceId));
        assertEquals(STEPS, without.size());
        assertEquals(without.keySet(), withOutage.keySet(), "every step reported");
        double worst = 0;
        for (Map.Entry<Integer, Double> e : without.entrySet()) {
            worst = Math.max(worst, Math.abs(e.getValue() - withOutage.get(e.getKey())));
        }
        System.out.printf("outage IT: broker down %s..%s, %d steps reported from inside the outage, attempt %d, max |loss diff| %.2e%n",
                down, up, stepsDuringOutage, done.attempt(), worst);
        assertTrue(worst <= 1e-4, "per-step losses differ from the run without an outage by " + worst);
        // One model: a job given up just after it registered (its partitions lost as the broker came
        // back) registers again when resumed from its last checkpoint; the card is keyed by model id
        // on a compacted topic, so the same card twice is still one model.
        List<ModelCard> cards = topics.modelRecords(modelId);
        assertTrue(!cards.isEmpty() && cards.size() <= 2, cards.size() + " registrations of " + modelId);
        assertEquals(1, cards.stream().map(c -> List.of(c.artifactUri(), c.datasetHash(), c.status())).distinct().count(),
                "every registration names the same model: " + cards);
        trainer.destroy();
        assertTrue(trainer.waitFor(30, TimeUnit.SECONDS), "the trainer stops on SIGTERM");
    }

    /** {@code EmbeddedKafka}'s main in a JVM of its own, on {@link #port} and the test's data folder. */
    private static Process startBroker() throws Exception {
        Process p = new ProcessBuilder(PackagedTrainer.java(), "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "dev.forgeline.kafka.EmbeddedKafka", work.resolve("kafka").toString(), String.valueOf(port))
                .redirectErrorStream(true).start();
        started.add(p);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = out.readLine()) != null) {
            if (line.startsWith("KAFKA_BOOTSTRAP_SERVERS=")) break;
            if (System.nanoTime() > deadline) throw new AssertionError("the broker did not start within 60 s");
        }
        if (line == null) throw new AssertionError("the broker exited: " + p.waitFor());
        drain(out);
        return p;
    }

    /** Keeps reading the broker's output so that it never blocks on a full pipe. */
    private static void drain(BufferedReader out) {
        Thread t = new Thread(() -> {
            try {
                while (out.readLine() != null) { /* discard */ }
            } catch (IOException ignored) {
                // the broker was killed
            }
        }, "broker-output");
        t.setDaemon(true);
        t.start();
    }

    private static Process trainer(Path log) throws Exception {
        return PackagedTrainer.start("127.0.0.1:" + port, work.resolve("artifacts"), log, started);
    }
}
