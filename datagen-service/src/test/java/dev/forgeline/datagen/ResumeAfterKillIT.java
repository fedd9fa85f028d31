package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.kafka.EmbeddedKafka;
import dev.forgeline.kafka.TopicRecords;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged service ({@code java -jar target/quarkus-app/quarkus-run.jar}) killed with SIGKILL
 * halfway through a generation and started again: the job resumes (attempt 2) from the examples it
 * had saved and ends with exactly the target count, every example once. Runs under failsafe in
 * {@code mvn verify}.
 */
class ResumeAfterKillIT {
    private static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");
    private static final int TARGET = 400;
    private static EmbeddedKafka broker;
    private static Path work;
    private static final List<Process> started = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR.toAbsolutePath() + " is missing: run `mvn package` first");
        work = Files.createTempDirectory("forge-datagen-resume-it-");
        broker = EmbeddedKafka.start(work.resolve("kafka"));
    }

    @AfterAll
    static void stop() {
        started.forEach(Process::destroyForcibly);
        if (broker != null) broker.close();
    }

    @Test
    void killedHalfwayAndRestartedEndsWithTheTargetCountAndNoDuplicates() throws Exception {
        AtomicInteger answered = new AtomicInteger();
        // 100 ms an answer, 4 calls in flight: about ten seconds of generation
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(request -> ScriptedAnswers.route(request,
                r -> Reply.delay(Duration.ofMillis(100), Reply.ok(ScriptedAnswers.example(answered.getAndIncrement(), -1)))))) {
            Process first = service("first");
            String jobId = "resume-" + System.nanoTime();
            TopicRecords.send(broker.bootstrapServers(), Topics.DATAGEN_REQUESTS, jobId, DatagenRequest.builder(jobId)
                    .task("Answer questions about an invented world.").numExamples(TARGET).maxConcurrency(4)
                    .teacher(new DatagenRequest.Teacher(teacher.baseUrl(), "scripted", null)).build());
            JobStatus halfway = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                    s -> s.progress() >= 0.3 && s.checkpoint() != null && s.checkpoint().startsWith("part-"), Duration.ofSeconds(90));
            assertNotNull(halfway, "the job never got a third of the way with a saved part");
            assertTrue(halfway.progress() < 0.8, "killed too late: " + halfway.progress());
            first.destroyForcibly().waitFor();

            service("second");
            JobStatus end = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                    s -> s.state().isTerminal(), Duration.ofSeconds(120));
            assertNotNull(end, "the job did not end after the restart");
            assertEquals(JobState.SUCCEEDED, end.state(), () -> "error: " + end.error());
            assertEquals(2, end.attempt(), "resumed by the restarted service");

            List<Conversation> all = new ArrayList<>(read(jobId, "train.jsonl"));
            all.addAll(read(jobId, "test.jsonl"));
            assertEquals(TARGET, all.size());
            Set<Integer> families = new HashSet<>();
            for (Conversation c : all) {
                assertTrue(families.add(ScriptedAnswers.family(c.messages().get(1).content())), "a duplicate after the resume");
            }
            assertTrue(answered.get() < 2 * TARGET, "the resumed job kept what was saved: " + answered.get() + " answers");
        }
    }

    private static Process service(String name) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-Dquarkus.http.port=0", "-jar", JAR.toString())
                .redirectErrorStream(true)
                .redirectOutput(Files.createDirectories(Path.of("target/resume-it")).resolve(name + ".log").toFile());
        Map<String, String> env = pb.environment();
        env.put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
        env.put("FORGE_ARTIFACTS_ROOT", work.resolve("artifacts").toString());
        // a killed replica's partitions move after this; the broker's minimum
        env.put("FORGE_WORKER_SESSION_TIMEOUT", "6s");
        Process p = pb.start();
        started.add(p);
        return p;
    }

    private static List<Conversation> read(String datasetId, String file) throws Exception {
        try (InputStream in = Files.newInputStream(work.resolve("artifacts/datasets/" + datasetId + "/" + file))) {
            return DatasetFiles.read(in);
        }
    }
}
