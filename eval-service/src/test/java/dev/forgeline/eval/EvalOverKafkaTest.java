package dev.forgeline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.SchemaVersion;
import dev.forgeline.contracts.Topics;
import dev.forgeline.engine.SharedData;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.kafka.TopicRecords;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Eval jobs through the real broker and the service: a registered candidate (a copy of
 * stories260k, so its numbers equal its base's) judged by the gate, the report files, the card
 * on {@code forge.models} and in the store, generate mode, and requests that must end FAILED.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(EvalTestResource.class)
class EvalOverKafkaTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    private static Path store() {
        return Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
    }

    private static String bootstrap() {
        return ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
    }

    /** stories260k copied into the store as a registered candidate; {@code chatTemplate} false drops its template. */
    private static String candidate(boolean chatTemplate) throws Exception {
        String id = "cand-" + UUID.randomUUID().toString().substring(0, 8);
        Path dir = Files.createDirectories(store().resolve("models").resolve(id));
        try (Stream<Path> files = Files.list(SharedData.model("stories260k"))) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        if (!chatTemplate) {
            JsonNode config = ContractsJson.mapper().readTree(dir.resolve("tokenizer_config.json").toFile());
            ((com.fasterxml.jackson.databind.node.ObjectNode) config).remove("chat_template");
            Files.writeString(dir.resolve("tokenizer_config.json"), ContractsJson.write(config));
        }
        ModelCard card = new ModelCard(id, "stories260k", "ds", null, "lora", Map.of(), dir.toUri().toString(), null,
                Map.of("final_train_loss", 1.5), ModelCard.Status.CANDIDATE, "stories260k", "train-" + id,
                Instant.now(), 0);
        Files.writeString(dir.resolve("card.json"), ContractsJson.write(card));
        return id;
    }

    private static Path heldOutSet() throws Exception {
        Path dir = Files.createTempDirectory("forge-eval-held-out-");
        String line = "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"},"
                + "{\"role\":\"assistant\",\"content\":\"there was a little girl named Lily.\"}]}";
        Files.write(dir.resolve("train.jsonl"), List.of(line));
        Files.write(dir.resolve("test.jsonl"), List.of(line, line.replace("Lily", "Tom")));
        return dir;
    }

    private static EvalRequest request(String jobId, String model, EvalRequest.Mode mode, List<String> subjects, int shots,
            EvalRequest.Gate gate, String heldOut) {
        return new EvalRequest(jobId, SchemaVersion.CURRENT, List.of("deploy"), model, "stories260k", "mmlu", subjects,
                shots, 5, mode, 4, heldOut, gate);
    }

    @Test
    void candidateEqualToItsBaseIsRejectedByDefaultAndApprovedWhenHeldOutNeedNotImprove() throws Exception {
        String model = candidate(true);
        String heldOut = heldOutSet().toUri().toString();
        String strict = "eval-strict-" + UUID.randomUUID();
        send(request(strict, model, null, List.of("astronomy", "anatomy"), 1, null, heldOut));
        JobStatus done = awaitStatus(strict);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        ModelCard rejected = awaitCard(model, c -> c.status() != ModelCard.Status.CANDIDATE);
        assertEquals(ModelCard.Status.REJECTED, rejected.status());
        assertEquals("failed", rejected.eval().get("gate"));
        assertEquals(rejected.eval().get("base_accuracy"), rejected.eval().get("accuracy"), "same weights, same items");
        assertEquals(0.0, ((Number) rejected.eval().get("accuracy_diff")).doubleValue(), 1e-12);
        assertEquals(1.5, ((Number) rejected.eval().get("final_train_loss")).doubleValue(), "training's figures stay");
        assertTrue(String.valueOf(rejected.eval().get("gate_reason")).contains("held-out loss"), "" + rejected.eval());

        JobEvent last = TopicRecords.await(bootstrap(), Topics.JOB_EVENTS, strict, JobEvent.class,
                e -> e.type().equals(JobEvent.PROGRESS) && Integer.valueOf(20).equals(e.data().get("items_done")), TIMEOUT);
        assertNotNull(last, "a progress event for all 20 items (10 each for the model and its base)");
        assertEquals(20, last.data().get("items_total"));
        assertTrue(last.data().containsKey("items_per_s") && last.data().containsKey("eta_s"), "" + last.data());

        Path dir = store().resolve("evals").resolve(strict);
        JsonNode report = ContractsJson.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals(10, report.get("model").get("acc").get("n").asInt());
        assertEquals(2, report.get("model").get("subjects").size());
        assertEquals(report.get("model").get("held_out").get("loss").asDouble(),
                report.get("base").get("held_out").get("loss").asDouble(), 1e-9);
        assertEquals(1.0, report.get("comparison").get("mcnemar_exact_p").asDouble(), 1e-12);
        List<String> items = Files.readAllLines(dir.resolve("items.jsonl"));
        assertEquals(10, items.size());
        JsonNode first = ContractsJson.mapper().readTree(items.get(0));
        assertEquals("astronomy", first.get("subject").asText());
        assertEquals(4, first.get("loglikelihoods").size());
        assertEquals(items, Files.readAllLines(dir.resolve("base_items.jsonl")), "item by item, the same scores");
        assertEquals("rejected", ContractsJson.mapper().readTree(store().resolve("models").resolve(model)
                .resolve("card.json").toFile()).get("status").asText(), "card.json follows the registry");

        String lenient = "eval-lenient-" + UUID.randomUUID();
        send(request(lenient, model, null, List.of("astronomy", "anatomy"), 1,
                new EvalRequest.Gate(null, false, null, null), heldOut));
        assertEquals(JobState.SUCCEEDED, awaitStatus(lenient).state());
        ModelCard approved = awaitCard(model, c -> c.status() == ModelCard.Status.APPROVED
                && lenient.equals(c.eval().get("eval_job_id")));
        assertEquals("passed", approved.eval().get("gate"));
    }

    /** A DPO model's held-out set is a preference set: the gate asks whether most pairs moved towards the chosen reply. */
    @Test
    void onAPreferenceHeldOutSetACandidateEqualToItsBaseMovesNoPairAndIsRejected() throws Exception {
        String model = candidate(true);
        Path set = Files.createTempDirectory("forge-eval-pairs-");
        String pair = "{\"prompt\":\"Once upon a time\",\"chosen\":\"there was a girl named Lily.\",\"rejected\":\"the end.\"}";
        Files.write(set.resolve("train.jsonl"), List.of(pair));
        Files.write(set.resolve("test.jsonl"), List.of(pair, pair.replace("Lily", "Tom"), pair.replace("the end", "a dog")));
        String job = "eval-pairs-" + UUID.randomUUID();
        send(request(job, model, null, List.of("astronomy"), 0, null, set.toUri().toString()));
        JobStatus done = awaitStatus(job);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        ModelCard rejected = awaitCard(model, c -> job.equals(c.eval().get("eval_job_id")));
        assertEquals(ModelCard.Status.REJECTED, rejected.status());
        assertEquals(0.0, ((Number) rejected.eval().get("held_out_reward_accuracy")).doubleValue());
        assertTrue(String.valueOf(rejected.eval().get("gate_reason")).contains("held-out reward accuracy 0.0000"), "" + rejected.eval());

        JsonNode report = ContractsJson.mapper().readTree(store().resolve("evals").resolve(job).resolve("report.json").toFile());
        JsonNode heldOut = report.get("model").get("held_out");
        assertEquals(3, heldOut.get("pairs").asInt());
        assertEquals("chosen replies", heldOut.get("loss_on").asText());
        assertTrue(heldOut.get("loss").asDouble() > 0 && heldOut.get("chosen_tokens").asInt() > 3, "" + heldOut);
        assertEquals(heldOut.get("pairwise_accuracy").asDouble(), report.get("base").get("held_out").get("pairwise_accuracy").asDouble());
    }

    @Test
    void generateModeAnswersWithTheChatTemplate() throws Exception {
        String model = candidate(true);
        String job = "eval-generate-" + UUID.randomUUID();
        send(request(job, model, EvalRequest.Mode.GENERATE, List.of("astronomy"), 0, null, null));
        JobStatus done = awaitStatus(job);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        JsonNode report = ContractsJson.mapper().readTree(store().resolve("evals").resolve(job).resolve("report.json").toFile());
        assertEquals(5, report.get("model").get("acc").get("n").asInt());
        assertTrue(report.get("model").has("unparseable"));
        JsonNode item = ContractsJson.mapper().readTree(
                Files.readAllLines(store().resolve("evals").resolve(job).resolve("items.jsonl")).get(0));
        assertTrue(item.has("answer"), "generate mode keeps the model's text: " + item);
    }

    @Test
    void badRequestsEndFailedWithTheirReasonAndTheWorkerGoesOn() throws Exception {
        String model = candidate(true);
        String noTemplate = candidate(false);
        Map<EvalRequest, String> cases = Map.of(
                request("bad-subject-" + UUID.randomUUID(), model, null, List.of("alchemy"), 0, null, null),
                "subject 'alchemy' is not in dataset 'mmlu'",
                request("bad-shots-" + UUID.randomUUID(), model, null, List.of("anatomy"), 6, null, null),
                "num_fewshot 6 but subject 'anatomy' has 5 dev examples",
                request("bad-model-" + UUID.randomUUID(), "no-such-model", null, List.of("anatomy"), 0, null, null),
                "model 'no-such-model' not found",
                request("bad-template-" + UUID.randomUUID(), noTemplate, EvalRequest.Mode.GENERATE, List.of("anatomy"), 0,
                        null, null),
                "has no chat template",
                new EvalRequest("bad-set-" + UUID.randomUUID(), SchemaVersion.CURRENT, null, model, null, "no-such-set",
                        null, 0, null, null, null, null, null),
                "dataset 'no-such-set' not found");
        for (EvalRequest r : cases.keySet()) {
            send(r);
        }
        for (Map.Entry<EvalRequest, String> c : cases.entrySet()) {
            JobStatus s = awaitStatus(c.getKey().jobId());
            assertEquals(JobState.FAILED, s.state(), c.getKey().jobId());
            assertTrue(s.error().contains(c.getValue()), c.getKey().jobId() + ": " + s.error());
        }
        String ok = "after-bad-" + UUID.randomUUID();
        send(new EvalRequest(ok, SchemaVersion.CURRENT, null, model, null, "mmlu", List.of("anatomy"), 0, 2, null, null,
                null, null));
        assertEquals(JobState.SUCCEEDED, awaitStatus(ok).state(), "the worker keeps serving");
    }

    private static void send(EvalRequest r) throws Exception {
        TopicRecords.send(bootstrap(), Topics.EVAL_REQUESTS, r.jobId(), r);
    }

    private static JobStatus awaitStatus(String jobId) throws Exception {
        JobStatus s = TopicRecords.await(bootstrap(), Topics.JOBS, jobId, JobStatus.class, x -> x.state().isTerminal(), TIMEOUT);
        assertNotNull(s, "job " + jobId + " did not end");
        return s;
    }

    private static ModelCard awaitCard(String id, Predicate<ModelCard> until) throws Exception {
        ModelCard c = TopicRecords.await(bootstrap(), Topics.MODELS, id, ModelCard.class, until, TIMEOUT);
        assertNotNull(c, "no such card for " + id);
        return c;
    }
}
