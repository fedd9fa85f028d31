package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.datagen.cleaning.DatasetFiles;
import dev.forgeline.datagen.generation.TeacherPrompts;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.kafka.TopicRecords;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/** Datagen jobs through the real broker, with a scripted teacher over real HTTP. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(DatagenTestResource.class)
class DatagenOverKafkaTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    private static Path store() {
        return Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
    }

    private static String bootstrap() {
        return ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
    }

    /** An entry of the teacher's script: its answer, and the family of examples it belongs to (-1: none). */
    private record Entry(String answer, int family, String kind) {}

    /**
     * 50 answers: 32 families of distinct examples, 5 exact and 5 near duplicates of earlier ones (each
     * at least ten answers after its original), 5 malformed JSON, 3 refusals; the last answer is a
     * family of its own, so the job needs every answer. Transport failures on the way: 429 with
     * Retry-After twice, one 500, one call slower than the timeout.
     */
    @Test
    void scriptedTeacherRunKeepsExactlyTheValidUniqueExamplesAndCountsEveryStage() throws Exception {
        List<Entry> script = script();
        AtomicInteger exampleRequests = new AtomicInteger();
        AtomicInteger served = new AtomicInteger();
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(request -> ScriptedAnswers.route(request, r -> {
            int k = exampleRequests.getAndIncrement();
            return switch (k) {
                case 2, 11 -> Reply.status(429, Map.of("Retry-After", "1"));
                case 5 -> Reply.status(500, Map.of());
                case 8 -> Reply.delay(Duration.ofSeconds(3), Reply.ok(script.get(0).answer())); // given up on: consumes nothing
                default -> Reply.ok(script.get(Math.min(served.getAndIncrement(), script.size() - 1)).answer());
            };
        }))) {
            String jobId = "gen-" + System.nanoTime();
            DatagenRequest request = DatagenRequest.builder(jobId).task("Answer questions about an invented world.")
                    .numExamples(32).maxConcurrency(4).nearDuplicateThreshold(0.7).testFraction(0.125)
                    .teacher(new DatagenRequest.Teacher(teacher.baseUrl(), "scripted", null)).build();
            TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, jobId, request);
            JobStatus status = await(jobId);
            assertEquals(JobState.SUCCEEDED, status.state(), () -> "error: " + status.error());
            assertEquals(script.size(), served.get(), "every scripted answer was used, none beyond");

            List<Conversation> all = new ArrayList<>(read(jobId, "train.jsonl"));
            all.addAll(read(jobId, "test.jsonl"));
            assertEquals(32, all.size());
            Set<Integer> families = new HashSet<>();
            for (Conversation c : all) {
                assertEquals(List.of("system", "user", "assistant"), c.messages().stream().map(t -> t.role()).toList());
                assertEquals(ScriptedAnswers.SYSTEM_PROMPT, c.messages().get(0).content(), "the teacher's system prompt");
                assertTrue(families.add(ScriptedAnswers.family(c.messages().get(1).content())), "one example a family");
            }
            assertEquals(32, families.size());

            DatasetCard card = ContractsJson.read(Files.readString(store().resolve("datasets/" + jobId + "/card.json")), DatasetCard.class);
            Map<String, Object> s = card.stats();
            assertEquals(50, number(s.get("asked")), "asked: one call per answer, no surplus");
            assertEquals(50, number(s.get("returned")));
            assertEquals(5, number(s.get("unparseable")));
            assertEquals(Map.of("refusal", 3L), numbers(s.get("rejected")));
            Map<String, Long> duplicates = numbers(s.get("duplicates"));
            assertEquals(10, duplicates.get("exact") + duplicates.get("near"), "duplicates: " + duplicates);
            assertEquals(32, number(s.get("kept")));
            assertEquals(28, number(s.get("train")));
            assertEquals(4, number(s.get("test")));
            assertEquals(52, number(s.get("teacher_calls")), "the system prompt, the topics and 50 examples");
            assertEquals(0, number(s.get("failed_calls")), "every failure was retried to success");
            assertTrue(number(numbers(s.get("teacher_tokens")).get("total")) > 0);
            assertEquals(false, s.get("stopped_at_budget"));
            assertEquals(28, card.trainExamples());
            assertEquals(ScriptedAnswers.SYSTEM_PROMPT, card.systemPrompt());
            assertTrue(card.contentHash().startsWith("sha256:"));
            assertEquals("scripted at " + teacher.baseUrl(), card.teacherModel());
            DatasetCard published = TopicRecords.await(bootstrap(), Topics.DATASETS, jobId, DatasetCard.class, c -> true, TIMEOUT);
            assertEquals(card.contentHash(), published.contentHash());
            JobEvent progress = TopicRecords.await(bootstrap(), Topics.JOB_EVENTS, jobId, JobEvent.class,
                    e -> "progress".equals(e.type()) && e.data().containsKey("examples_kept"), TIMEOUT);
            assertNotNull(progress, "progress events carry the examples kept");
            assertTrue(exampleRequests.get() >= 54, "the four transport failures were retried: " + exampleRequests.get());
        }
    }

    private static List<Entry> script() {
        List<Entry> uniques = new ArrayList<>();
        for (int f = 0; f < 31; f++) {
            uniques.add(new Entry(ScriptedAnswers.example(f, -1), f, "unique"));
        }
        List<Entry> script = new ArrayList<>(uniques);
        List<Entry> others = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            others.add(new Entry(ScriptedAnswers.example(i, -1), i, "exact"));
            others.add(new Entry(ScriptedAnswers.example(10 + i, 20), 10 + i, "near"));
            others.add(new Entry("{\"messages\": [{\"role\": \"user\", \"content\": \"broken " + i, -1, "malformed"));
        }
        for (int i = 0; i < 3; i++) {
            others.add(new Entry(ScriptedAnswers.json("q" + (100 + i) + " tell me something",
                    "I'm sorry, but I can't help with that request."), -1, "refusal"));
        }
        Collections.shuffle(others, new Random(7));
        // the duplicates come after all originals (answers 31..48), so each is at least ten answers later
        script.addAll(others);
        script.add(new Entry(ScriptedAnswers.example(31, -1), 31, "unique"));
        return script;
    }

    @Test
    void importedAlpacaFileBecomesAChatDatasetAndStartsTraining() throws Exception {
        Path file = Files.createDirectories(store().resolve("uploads")).resolve("alpaca.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"instruction\": \"Name a red fruit.\", \"input\": \"\", \"output\": \"An apple.\"}",
                "{\"instruction\": \"Translate to French.\", \"input\": \"cat\", \"output\": \"chat\"}",
                "{\"instruction\": \"Name a red fruit.\", \"input\": \"\", \"output\": \"An apple.\"}",
                "not json",
                "{\"instruction\": \"Say hi.\"}",
                "{\"instruction\": \"Help me.\", \"output\": \"I'm sorry, but I can't help with that.\"}",
                "{\"instruction\": \"Name a yellow fruit.\", \"output\": \"A banana.\"}") + "\n");
        String jobId = "import-" + System.nanoTime();
        DatagenRequest request = DatagenRequest.builder(jobId).then(List.of("train"))
                .source(new DatagenRequest.Source("uploads/alpaca.jsonl", DatagenRequest.Format.ALPACA))
                .systemPrompt("You are helpful.").testFraction(0.34)
                .train(TrainingRequest.builder(null).baseModel("stories260k").maxSteps(5).build()).build();
        TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, jobId, request);
        JobStatus status = await(jobId);
        assertEquals(JobState.SUCCEEDED, status.state(), () -> "error: " + status.error());
        DatasetCard card = ContractsJson.read(Files.readString(store().resolve("datasets/" + jobId + "/card.json")), DatasetCard.class);
        Map<String, Object> s = card.stats();
        assertEquals(7, number(s.get("lines")));
        assertEquals(2, number(s.get("malformed")));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> lines = (List<Map<String, Object>>) s.get("malformed_lines");
        assertEquals(List.of(4L, 5L), lines.stream().map(m -> number(m.get("line"))).toList());
        assertEquals(Map.of("refusal", 1L), numbers(s.get("rejected")));
        assertEquals(1, numbers(s.get("duplicates")).get("exact"));
        assertEquals(3, number(s.get("kept")));
        assertEquals("import:alpaca:uploads/alpaca.jsonl", card.source());
        List<Conversation> all = new ArrayList<>(read(jobId, "train.jsonl"));
        all.addAll(read(jobId, "test.jsonl"));
        assertEquals(Set.of("Name a red fruit.", "Translate to French.\n\ncat", "Name a yellow fruit."),
                Set.copyOf(all.stream().map(c -> c.messages().get(1).content()).toList()));
        assertTrue(all.stream().allMatch(c -> c.messages().get(0).content().equals("You are helpful.")));

        TrainingRequest next = TopicRecords.await(bootstrap(), Topics.TRAINING_REQUESTS, jobId + "-train", TrainingRequest.class,
                t -> true, TIMEOUT);
        assertNotNull(next, "then: [train] publishes the training request");
        assertEquals(jobId, next.dataset());
        assertEquals("stories260k", next.baseModel());
        assertEquals(5, next.maxSteps());
        assertEquals(jobId + "-train", status.result().get("training_job_id"));
    }

    @Test
    void badInputFailsTheJobWithAClearReason() throws Exception {
        String empty = "empty-task-" + System.nanoTime();
        TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, empty, DatagenRequest.of(empty, " "));
        assertFailedWith(empty, "task: required");

        String unreachable = "unreachable-" + System.nanoTime();
        TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, unreachable, DatagenRequest.builder(unreachable).task("t")
                .teacher(new DatagenRequest.Teacher("http://127.0.0.1:1/v1", "none", null)).build());
        assertFailedWith(unreachable, "127.0.0.1:1");

        String secret = "secret-" + System.nanoTime();
        TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, secret, DatagenRequest.builder(secret).task("t")
                .teacher(new DatagenRequest.Teacher("http://127.0.0.1:1/v1", "none", "AWS_SECRET_ACCESS_KEY")).build());
        assertFailedWith(secret, "allowed-api-key-envs");

        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(request -> ScriptedAnswers.route(request,
                r -> Reply.ok("Once upon a time there was no JSON here.")))) {
            String useless = "useless-" + System.nanoTime();
            TopicRecords.send(bootstrap(), Topics.DATAGEN_REQUESTS, useless, DatagenRequest.builder(useless).task("t")
                    .teacher(new DatagenRequest.Teacher(teacher.baseUrl(), "scripted", null)).build());
            assertFailedWith(useless, "nothing usable");
        }
    }

    private static void assertFailedWith(String jobId, String reason) throws Exception {
        JobStatus s = await(jobId);
        assertEquals(JobState.FAILED, s.state());
        assertTrue(s.error().contains(reason), "error of " + jobId + ": " + s.error());
    }

    private static JobStatus await(String jobId) throws Exception {
        JobStatus s = TopicRecords.await(bootstrap(), Topics.JOBS, jobId, JobStatus.class, x -> x.state().isTerminal(), TIMEOUT);
        assertNotNull(s, "job " + jobId + " did not end");
        return s;
    }

    private static List<Conversation> read(String datasetId, String file) throws Exception {
        try (InputStream in = Files.newInputStream(store().resolve("datasets/" + datasetId + "/" + file))) {
            return DatasetFiles.read(in);
        }
    }

    private static long number(Object o) {
        return ((Number) o).longValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Long> numbers(Object o) {
        Map<String, Long> out = new java.util.TreeMap<>();
        ((Map<String, Object>) o).forEach((k, v) -> out.put(k, number(v)));
        return out;
    }
}
