package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.DeadLetter;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.engine.train.ChatDataset;
import dev.forgeline.engine.train.ChatExample;
import dev.forgeline.engine.train.PreferenceDataset;
import dev.forgeline.engine.train.PreferenceExample;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.kafka.TopicRecords;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/**
 * Rejection sampling through the real broker, with a scripted policy (n answers per request) and a
 * scripted judge over real HTTP; and invalid requests into the dead-letter topic.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(DatagenTestResource.class)
class RejectionSamplingOverKafkaTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final String GRADER = "You are a strict, fair grader. You reply with the score only.";
    /** The policy's answers per prompt; "q=N" is the quality the judge gives N/10 for, "garbage" gets no score. */
    private static final Map<String, List<String>> ANSWERS = Map.of(
            "Task 0", List.of("q=2 zero-a", "q=9 zero-b", "q=5 zero-c", "garbage zero-d"),
            "Task 1", List.of("q=1 one-a", "q=3 one-b", "q=2 one-c", "q=3 one-d"),
            "Task 2", List.of("q=4 two-a", "q=4 two-b", "garbage two-c", "garbage two-d"),
            "Task 3", List.of("q=10 three-a", "q=0 three-b", "q=7 three-c", "q=6 three-d"));
    private static final Pattern GRADED = Pattern.compile("Answer to grade:\n(.*)\n\nGrade the answer", Pattern.DOTALL);

    private static Path store() {
        return Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
    }

    private static String bootstrap() {
        return ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
    }

    /** The judge's rule: q=N scores N, in a different wording for different N; "garbage" gets a reply without a score. */
    private static Reply judge(ScriptedTeacherServer.Request request) {
        Matcher m = GRADED.matcher(request.lastUserMessage());
        if (!m.find()) return Reply.error(400, "no answer to grade");
        String answer = m.group(1);
        if (answer.contains("garbage")) return Reply.ok("I cannot grade this answer, sorry.");
        int q = Integer.parseInt(answer.substring(2, answer.indexOf(' ')));
        return Reply.ok(switch (q % 4) {
            case 0 -> "Score: " + q;
            case 1 -> "**Score:** " + q + "/10";
            case 2 -> "{\"score\": " + q + "}";
            default -> q + "/10";
        });
    }

    @Test
    void judgedSamplesKeepTheBestAndPairBestWithWorstAndCountEverything() throws Exception {
        Path prompts = Files.createDirectories(store().resolve("uploads")).resolve("rs-prompts.jsonl");
        Files.writeString(prompts, String.join("\n",
                "{\"prompt\": \"Task 0\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Task 1\"}, {\"role\": \"assistant\", \"content\": \"ref\"}]}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Task 2\"}]}",
                "{\"prompt\": 3}",
                "{\"prompt\": \"Task 3\", \"reference\": \"q=10\"}") + "\n");
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(request -> {
            if (!request.messages().isEmpty() && GRADER.equals(request.messages().get(0).content())) return judge(request);
            return Reply.choices(ANSWERS.get(request.lastUserMessage()));
        })) {
            String jobId = "rs-judge-" + System.nanoTime();
            RejectionSamplingRequest request = RejectionSamplingRequest.builder(jobId).prompts("uploads/rs-prompts.jsonl")
                    .policy(new RejectionSamplingRequest.Policy("policy", server.baseUrl(), null)).numSamples(4).temperature(1.0)
                    .maxTokens(16).maxConcurrency(2).threshold(0.6).testFraction(0.0)
                    .scorer(RejectionSamplingRequest.Scorer.judge(new DatagenRequest.Teacher(server.baseUrl(), "judge", null),
                            "Higher q is better."))
                    .then(List.of("train")).train(TrainingRequest.builder(null).baseModel("stories260k").maxSteps(3).build())
                    .build();
            TopicRecords.send(bootstrap(), Topics.REJECTION_SAMPLING_REQUESTS, jobId, request);
            JobStatus status = await(jobId);
            assertEquals(JobState.SUCCEEDED, status.state(), () -> "error: " + status.error());
            assertEquals("rejection-sampling", status.kind());

            List<ScriptedTeacherServer.Request> policyCalls = server.requests().stream()
                    .filter(r -> r.model().equals("policy")).toList();
            assertEquals(4, policyCalls.size(), "one request per prompt");
            assertTrue(policyCalls.stream().allMatch(r -> r.n() == 4 && r.temperature() == 1.0), "n = num_samples in each");
            assertEquals(16, server.requests().stream().filter(r -> r.model().equals("judge")).count(), "one judgement an answer");

            // SFT: the best answer of each prompt whose best reached 0.6, with its score
            Path sftFile = store().resolve("datasets/" + jobId + "-sft/train.jsonl");
            List<ChatExample> sft = ChatDataset.read(sftFile);
            Map<String, String> bestByTask = new TreeMap<>();
            sft.forEach(e -> bestByTask.put(e.messages().get(0).content(), e.messages().get(1).content()));
            assertEquals(Map.of("Task 0", "q=9 zero-b", "Task 3", "q=10 three-a"), bestByTask);
            Map<String, Double> sftScores = new TreeMap<>();
            for (String line : Files.readAllLines(sftFile)) {
                var node = ContractsJson.mapper().readTree(line);
                sftScores.put(node.get("messages").get(1).get("content").asText(), node.get("score").asDouble());
            }
            assertEquals(Map.of("q=9 zero-b", 0.9, "q=10 three-a", 1.0), sftScores);

            // preference: best against worst where the best scored higher
            Path prefFile = store().resolve("datasets/" + jobId + "-pref/train.jsonl");
            List<PreferenceExample> pairs = PreferenceDataset.read(prefFile);
            Map<String, String> pairByTask = new TreeMap<>();
            pairs.forEach(p -> pairByTask.put(p.prompt().get(0).content(), p.chosen().content() + " > " + p.rejected().content()));
            assertEquals(Map.of("Task 0", "q=9 zero-b > q=2 zero-a", "Task 1", "q=3 one-b > q=1 one-a",
                    "Task 3", "q=10 three-a > q=0 three-b"), pairByTask);
            for (String line : Files.readAllLines(prefFile)) {
                var node = ContractsJson.mapper().readTree(line);
                assertTrue(node.get("score_chosen").asDouble() > node.get("score_rejected").asDouble(), line);
            }

            DatasetCard sftCard = card(jobId + "-sft");
            DatasetCard prefCard = card(jobId + "-pref");
            assertEquals("chat", sftCard.format());
            assertEquals("preference", prefCard.format());
            assertEquals(sft.size(), sftCard.trainExamples());
            assertEquals(pairs.size(), prefCard.trainExamples());
            Map<String, Object> s = sftCard.stats();
            assertEquals(5, number(s.get("lines")));
            assertEquals(1, number(s.get("malformed")), "the line whose prompt is a number");
            assertEquals(4, number(s.get("prompts")));
            assertEquals(16, number(s.get("samples")));
            assertEquals(13, number(s.get("scored")));
            assertEquals(3, number(s.get("unscored")), "the judge's replies without a score are counted");
            assertEquals(5.6 / 13, ((Number) s.get("mean_score")).doubleValue(), 1e-12);
            assertEquals(1.0, ((Number) s.get("max_score")).doubleValue());
            assertEquals(4.0 / 13, ((Number) s.get("pass_rate")).doubleValue(), 1e-12);
            assertEquals(2, number(s.get("kept")));
            assertEquals(2, number(s.get("dropped_below_threshold")));
            assertEquals(3, number(s.get("pairs")));
            assertEquals(1, number(s.get("no_margin")), "Task 2: both scored answers got 4");
            assertEquals(s.get("pairs"), prefCard.stats().get("pairs"));
            assertEquals("policy at " + server.baseUrl(), sftCard.teacherModel());
            DatasetCard published = TopicRecords.await(bootstrap(), Topics.DATASETS, jobId + "-pref", DatasetCard.class,
                    c -> true, TIMEOUT);
            assertEquals(prefCard.contentHash(), published.contentHash());

            TrainingRequest next = TopicRecords.await(bootstrap(), Topics.TRAINING_REQUESTS, jobId + "-train",
                    TrainingRequest.class, t -> true, TIMEOUT);
            assertNotNull(next, "then: [train] publishes the training request");
            assertEquals(jobId + "-sft", next.dataset());
            JobEvent progress = TopicRecords.await(bootstrap(), Topics.JOB_EVENTS, jobId, JobEvent.class,
                    e -> "progress".equals(e.type()) && e.data().containsKey("prompts_done"), TIMEOUT);
            assertNotNull(progress, "progress events while sampling");
        }
    }

    @Test
    void invalidAndUnparseableRequestsGoToTheDeadLetterTopic() throws Exception {
        String invalid = "rs-invalid-" + System.nanoTime();
        TopicRecords.send(bootstrap(), Topics.REJECTION_SAMPLING_REQUESTS, invalid, Map.of("job_id", invalid,
                "prompts", "p.jsonl", "policy", Map.of("model", "m"), "num_samples", 0,
                "scorer", Map.of("type", "regex", "pattern", "(")));
        DeadLetter letter = TopicRecords.await(bootstrap(), Topics.DLQ, invalid, DeadLetter.class, d -> true, TIMEOUT);
        assertNotNull(letter, "an invalid request lands in " + Topics.DLQ);
        assertEquals(Topics.REJECTION_SAMPLING_REQUESTS, letter.sourceTopic());
        assertEquals(List.of("num_samples", "scorer.pattern"), letter.errors().stream().map(e -> e.field()).toList());
        JobStatus failed = await(invalid);
        assertEquals(JobState.FAILED, failed.state());
        assertTrue(failed.error().contains("num_samples: must be in [1, 128]"), failed.error());

        String unparseable = "rs-unparseable-" + System.nanoTime();
        TopicRecords.send(bootstrap(), Topics.REJECTION_SAMPLING_REQUESTS, unparseable, Map.of("job_id", unparseable,
                "scorer", Map.of("type", "bleu")));
        DeadLetter second = TopicRecords.await(bootstrap(), Topics.DLQ, unparseable, DeadLetter.class, d -> true, TIMEOUT);
        assertNotNull(second, "an unparseable request lands in " + Topics.DLQ);
        assertTrue(second.reason().contains("bleu"), second.reason());
    }

    private static DatasetCard card(String id) throws Exception {
        return ContractsJson.read(Files.readString(store().resolve("datasets/" + id + "/card.json")), DatasetCard.class);
    }

    private static JobStatus await(String jobId) throws Exception {
        JobStatus s = TopicRecords.await(bootstrap(), Topics.JOBS, jobId, JobStatus.class, x -> x.state().isTerminal(), TIMEOUT);
        assertNotNull(s, "job " + jobId + " did not end");
        return s;
    }

    private static long number(Object o) {
        return ((Number) o).longValue();
    }
}
