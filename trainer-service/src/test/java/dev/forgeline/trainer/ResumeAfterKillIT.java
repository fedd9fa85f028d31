package dev.forgeline.trainer;

import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.kafka.EmbeddedKafka;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged trainer ({@code java -jar target/quarkus-app/quarkus-run.jar}, after {@code package})
 * killed with SIGKILL mid-job and started again: the job resumes from its last checkpoint (attempt 2),
 * its per-step losses (and a DPO job's reward margins and accuracies) equal those of an uninterrupted
 * job with the same settings, and one model is registered. Once for each objective: SFT and DPO.
 * Runs under failsafe in {@code mvn verify}, so {@code ./forge test} runs it.
 */
class ResumeAfterKillIT {
    private static final Path JAR = PackagedTrainer.JAR;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    /** Enough steps after the first checkpoint (step 3) that the kill lands well before the end. */
    private static final int STEPS = 45;
    private static EmbeddedKafka broker;
    private static JobTopics topics;
    private static Path work;
    private static final List<Process> started = new ArrayList<>();

    /** The broker's INFO lines would bury the test's own; held here because JUL keeps loggers only weakly. */
    private static final List<Logger> QUIET = Stream.of("kafka", "org.apache.kafka", "state.change.logger")
            .map(Logger::getLogger).toList();

    @BeforeAll
    static void start() throws Exception {
        QUIET.forEach(l -> l.setLevel(Level.WARNING));
        assertTrue(Files.isRegularFile(JAR), JAR.toAbsolutePath() + " is missing: run `mvn package` first");
        work = Files.createTempDirectory("forge-resume-it-");
        broker = EmbeddedKafka.start(work.resolve("kafka"));
        topics = new JobTopics(broker.bootstrapServers());
    }

    @AfterAll
    static void stop() {
        started.forEach(Process::destroyForcibly);
        if (topics != null) topics.close();
        if (broker != null) broker.close();
    }

    /** A leftover trainer of a failed case would take partitions, and jobs, from the next case's. */
    @AfterEach
    void stopTrainers() {
        started.forEach(Process::destroyForcibly);
        started.clear();
    }

    /** The objectives a job can train with, each with its data and the per-step figures that must match. */
    enum Objective {
        SFT(List.of("loss")),
        /** Reference log-probs recomputed by the new process, the NLL term on (alpha), the step's pairs' measures. */
        DPO(List.of("loss", "reward_margin", "accuracy"));

        final List<String> perStep;

        Objective(List<String> perStep) {
            this.perStep = perStep;
        }

        Path writeData(Path dir) throws IOException {
            return this == DPO ? TinyTask.writePreferences(dir) : TinyTask.writeDataset(dir);
        }

        /** Dropout on, accumulation, a reshuffle every 3 steps (one epoch): the data cursor and the RNG must resume too. */
        TrainingRequest.Builder job(String jobId, Path data) {
            TrainingRequest.Builder b = TinyTask.loraJob(jobId, data, STEPS, 3, 15, 7L);
            return this == DPO ? b.method(TrainingRequest.Method.DPO).alpha(0.2) : b;
        }
    }

    @ParameterizedTest
    @EnumSource(Objective.class)
    void sigkillMidJobResumesFromTheLastCheckpointWithTheSameLosses(Objective objective) throws Exception {
        Path data = objective.writeData(work.resolve("data-" + objective));
        Path logs = Files.createDirectories(Path.of("target/resume-it"));
        String jobId = "resume-it-" + objective.name().toLowerCase(Locale.ROOT) + "-" + System.currentTimeMillis();
        String modelId = "ft-" + jobId;

        Process first = trainer(logs.resolve(objective + "-trainer-1.log"));
        topics.send(objective.job(jobId, data).build());
        JobStatus checkpointed = topics.awaitStatus(jobId, s -> s.checkpoint() != null || s.state().isTerminal(), TIMEOUT);
        first.destroyForcibly(); // SIGKILL: no shutdown hook, no commit, no final status
        assertTrue(first.waitFor(20, TimeUnit.SECONDS), "the killed trainer exits");
        assertFalse(checkpointed.state().isTerminal(), "the job finished before the kill; give it more steps");
        assertEquals(137, first.exitValue(), "killed by SIGKILL");

        Process second = trainer(logs.resolve(objective + "-trainer-2.log"));
        JobStatus resumed = topics.awaitTerminal(jobId, TIMEOUT);
        assertEquals(JobState.SUCCEEDED, resumed.state(), () -> "error: " + resumed.error());
        assertEquals(2, resumed.attempt(), "the restarted trainer ran attempt 2");

        List<JobEvent> events = topics.events(jobId);
        JobEvent resume = events.stream().filter(e -> e.attempt() == 2 && e.type().equals(TrainingHandler.RESUME))
                .findFirst().orElseThrow(() -> new AssertionError("no resume event in attempt 2: " + events));
        int from = ((Number) resume.data().get("from_step")).intValue();
        assertTrue(from >= 3 && from % 3 == 0, "resumed from a checkpoint step: " + resume.data());
        int firstResumedStep = events.stream().filter(e -> e.attempt() == 2 && e.type().equals(JobEvent.PROGRESS))
                .mapToInt(e -> ((Number) e.data().get("step")).intValue()).min().orElseThrow();
        assertEquals(from + 1, firstResumedStep, "attempt 2 continues after the checkpoint");

        // the same job, uninterrupted, on the restarted trainer
        String referenceId = jobId + "-reference";
        topics.send(objective.job(referenceId, data).build());
        JobStatus reference = topics.awaitTerminal(referenceId, TIMEOUT);
        assertEquals(JobState.SUCCEEDED, reference.state(), () -> "error: " + reference.error());

        List<JobEvent> referenceEvents = topics.events(referenceId);
        for (String key : objective.perStep) {
            TreeMap<Integer, Double> interrupted = JobTopics.stepValues(events, key);
            TreeMap<Integer, Double> uninterrupted = JobTopics.stepValues(referenceEvents, key);
            assertEquals(STEPS, uninterrupted.size(), key + " of every step");
            assertEquals(uninterrupted.keySet(), interrupted.keySet(), "every step's " + key + " reported");
            double worst = 0;
            for (Map.Entry<Integer, Double> e : uninterrupted.entrySet()) {
                worst = Math.max(worst, Math.abs(e.getValue() - interrupted.get(e.getKey())));
            }
            System.out.printf("resume IT (%s): killed once checkpoint %s was reported (more may be saved before the kill lands), resumed from step %d, max |%s diff| %.2e%n",
                    objective, checkpointed.checkpoint(), from, key, worst);
            assertTrue(worst <= 1e-4, "per-step " + key + " differs from the uninterrupted run by " + worst);
        }

        assertEquals(1, topics.modelRecords(modelId).size(), "exactly one registration of " + modelId);
        assertTrue(Files.isRegularFile(work.resolve("artifacts/models").resolve(modelId).resolve("model.safetensors")));
        second.destroy();
        assertTrue(second.waitFor(30, TimeUnit.SECONDS), "the trainer stops on SIGTERM");
    }

    private static Process trainer(Path log) throws Exception {
        return PackagedTrainer.start(broker.bootstrapServers(), work.resolve("artifacts"), log, started);
    }
}
