package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.rejection.SampleLedger;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.engine.train.ChatDataset;
import dev.forgeline.engine.train.ChatExample;
import dev.forgeline.engine.train.PreferenceDataset;
import dev.forgeline.engine.train.PreferenceExample;
import dev.forgeline.kafka.EmbeddedKafka;
import dev.forgeline.kafka.TopicRecords;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packaged service ({@code java -jar target/quarkus-app/quarkus-run.jar}) killed with SIGKILL
 * halfway through a job and started again, on one broker: a generation resumes (attempt 2) from the
 * examples it had saved and ends with exactly the target count, every example once; a rejection-sampling
 * job resumes from its saved parts and asks the policy only for the prompts not in them. Runs under
 * failsafe in {@code mvn verify}.
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

    /** Each case starts its own services; they leave the group before the next case's join it. */
    @AfterEach
    void stopServices() throws InterruptedException {
        for (Process p : started) {
            p.destroy();
            p.waitFor();
        }
        started.clear();
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

    @Test
    void rejectionSamplingKilledMidJobAsksThePolicyOnlyForThePromptsItHadNotSaved() throws Exception {
        int prompts = 200;
        int concurrency = 4;
        int answeredBeforeKill = 100;
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < prompts; i++) {
            lines.append(ContractsJson.write(Map.of("prompt", "p" + i + ": what is the code?", "reference", "code-" + i))).append('\n');
        }
        Files.writeString(Files.createDirectories(work.resolve("artifacts/uploads")).resolve("rs-resume.jsonl"), lines);

        // The first service's policy answers 100 requests, then holds the next ones until the service is
        // killed, so the kill lands mid-job on any machine. Requests are counted per prompt and attempt:
        // the second service starts only after the kill, and the first one's held requests fill its
        // max_concurrency, so it sends nothing after them.
        CountDownLatch killed = new CountDownLatch(1);
        AtomicInteger answered = new AtomicInteger();
        Map<Integer, Integer> firstAsked = new ConcurrentHashMap<>();
        Map<Integer, Integer> secondAsked = new ConcurrentHashMap<>();
        try (ScriptedTeacherServer policy = ScriptedTeacherServer.start(request -> {
            String last = request.lastUserMessage();
            int prompt = Integer.parseInt(last.substring(1, last.indexOf(':')));
            if (killed.getCount() == 0) {
                secondAsked.merge(prompt, 1, Integer::sum);
            } else {
                firstAsked.merge(prompt, 1, Integer::sum);
                if (answered.getAndIncrement() >= answeredBeforeKill) {
                    awaitUninterruptibly(killed);
                    return Reply.error(503, "held until the service was killed");
                }
            }
            return Reply.choices(policyAnswers(prompt, request.n()));
        })) {
            Process first = service("rs-first");
            String jobId = "rs-resume-" + System.nanoTime();
            TopicRecords.send(broker.bootstrapServers(), Topics.REJECTION_SAMPLING_REQUESTS, jobId,
                    RejectionSamplingRequest.builder(jobId).prompts("uploads/rs-resume.jsonl")
                            .policy(new RejectionSamplingRequest.Policy("policy", policy.baseUrl(), null))
                            .numSamples(4).temperature(1.0).maxTokens(8).maxConcurrency(concurrency)
                            .scorer(RejectionSamplingRequest.Scorer.exactMatch(null)).threshold(1.0).testFraction(0.1).build());
            // killed once the saved parts hold the answered prompts but for an unsaved tail shorter than a part
            JobStatus saved = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                    s -> s.checkpoint() != null
                            && savedPrompts(jobId, s.checkpoint()).size() > answeredBeforeKill - SampleLedger.SAVE_EVERY_PROMPTS,
                    Duration.ofSeconds(90));
            assertNotNull(saved, "the job never saved most of the " + answeredBeforeKill + " answered prompts");
            first.destroyForcibly().waitFor();
            killed.countDown();

            service("rs-second");
            JobStatus resumed = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                    s -> s.attempt() == 2, Duration.ofSeconds(60));
            assertNotNull(resumed, "the restarted service did not take the job up");
            JobStatus end = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                    s -> s.state().isTerminal(), Duration.ofSeconds(120));
            assertNotNull(end, "the job did not end after the restart");
            assertEquals(JobState.SUCCEEDED, end.state(), () -> "error: " + end.error());
            assertEquals(2, end.attempt(), "resumed by the restarted service");

            // attempt 2 resumed from the parts its first status names: it asks for every other prompt, once
            Set<Integer> inParts = savedPrompts(jobId, resumed.checkpoint());
            Set<Integer> notSaved = new TreeSet<>();
            for (int i = 0; i < prompts; i++) if (!inParts.contains(i)) notSaved.add(i);
            assertEquals(notSaved, new TreeSet<>(secondAsked.keySet()), "asked again: exactly the prompts not saved");
            assertTrue(secondAsked.values().stream().allMatch(n -> n == 1), "each once: " + secondAsked);
            assertTrue(firstAsked.values().stream().allMatch(n -> n == 1), "each once: " + firstAsked);
            assertTrue(firstAsked.keySet().containsAll(inParts), "only prompts the policy answered were saved");
            // Asked twice: the prompts in flight at the kill, that is, held at the policy (at most
            // max_concurrency) or answered after the last saved part (fewer than a part).
            Set<Integer> askedTwice = new TreeSet<>(firstAsked.keySet());
            askedTwice.retainAll(secondAsked.keySet());
            assertTrue(firstAsked.size() - answeredBeforeKill <= concurrency, "held: " + (firstAsked.size() - answeredBeforeKill));
            assertTrue(askedTwice.size() < SampleLedger.SAVE_EVERY_PROMPTS + concurrency, "asked twice: " + askedTwice);

            // prompt i is kept when i % 3 != 0 and paired when i % 3 == 1 (policyAnswers), each once
            Map<Integer, String> kept = new TreeMap<>();
            for (ChatExample e : readBoth(jobId + "-sft", ChatDataset::read)) {
                String answer = e.messages().get(e.messages().size() - 1).content();
                assertNull(kept.put(prompt(e.messages().get(0).content()), answer), "a prompt kept twice");
            }
            Map<Integer, String> paired = new TreeMap<>();
            for (PreferenceExample p : readBoth(jobId + "-pref", PreferenceDataset::read)) {
                assertNull(paired.put(prompt(p.prompt().get(0).content()), p.chosen().content() + " > " + p.rejected().content()),
                        "a prompt paired twice");
            }
            Map<Integer, String> expectKept = new TreeMap<>();
            Map<Integer, String> expectPaired = new TreeMap<>();
            for (int i = 0; i < prompts; i++) {
                if (i % 3 != 0) expectKept.put(i, "code-" + i);
                if (i % 3 == 1) expectPaired.put(i, "code-" + i + " > guess-" + i + "-0");
            }
            assertEquals(expectKept, kept);
            assertEquals(expectPaired, paired);

            DatasetCard sftCard = card(jobId + "-sft");
            DatasetCard prefCard = card(jobId + "-pref");
            assertEquals(kept.size(), sftCard.trainExamples() + sftCard.testExamples());
            assertEquals(paired.size(), prefCard.trainExamples() + prefCard.testExamples());
            for (DatasetCard c : List.of(sftCard, prefCard)) {
                Map<String, Object> s = c.stats();
                assertEquals(prompts, number(s.get("prompts")), c.id());
                assertEquals(4L * prompts, number(s.get("samples")), c.id());
                assertEquals(kept.size(), number(s.get("kept")), c.id());
                assertEquals(paired.size(), number(s.get("pairs")), c.id());
                // the scripted policy counts words: 5 per prompt, 4 one-word answers per completion
                assertEquals(Map.of("prompt", 5L * prompts, "completion", 4L * prompts),
                        Map.of("prompt", number(((Map<?, ?>) s.get("policy_tokens")).get("prompt")),
                                "completion", number(((Map<?, ?>) s.get("policy_tokens")).get("completion"))),
                        c.id() + ": the tokens of every prompt's samples, saved ones included");
            }
        }
    }

    /** Prompt i's answer is "code-i": none of the n answers is right (i % 3 == 0), the second is (1), or all are (2). */
    private static List<String> policyAnswers(int prompt, int n) {
        List<String> answers = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            boolean right = prompt % 3 == 2 || (prompt % 3 == 1 && k == 1);
            answers.add(right ? "code-" + prompt : "guess-" + prompt + "-" + k);
        }
        return answers;
    }

    private static int prompt(String userMessage) {
        return Integer.parseInt(userMessage.substring(1, userMessage.indexOf(':')));
    }

    /** The prompt indices in the rejection-sampling parts up to {@code marker}, read from the store as written. */
    private static Set<Integer> savedPrompts(String jobId, String marker) {
        Set<Integer> saved = new HashSet<>();
        int parts = Integer.parseInt(marker.substring("part-".length()));
        try {
            for (int p = 1; p <= parts; p++) {
                Path part = work.resolve("artifacts/rejection-sampling/" + jobId + String.format("/part-%05d.jsonl", p));
                for (String line : Files.readAllLines(part)) {
                    if (!line.isBlank()) saved.add(ContractsJson.mapper().readTree(line).get("index").asInt());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return saved;
    }

    private static <T> List<T> readBoth(String datasetId, Function<Path, List<T>> reader) {
        List<T> all = new ArrayList<>(reader.apply(work.resolve("artifacts/datasets/" + datasetId + "/train.jsonl")));
        all.addAll(reader.apply(work.resolve("artifacts/datasets/" + datasetId + "/test.jsonl")));
        return all;
    }

    private static DatasetCard card(String datasetId) throws IOException {
        return ContractsJson.read(Files.readString(work.resolve("artifacts/datasets/" + datasetId + "/card.json")), DatasetCard.class);
    }

    private static long number(Object o) {
        return ((Number) o).longValue();
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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
