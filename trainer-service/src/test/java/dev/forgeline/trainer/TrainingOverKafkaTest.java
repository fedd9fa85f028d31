package dev.forgeline.trainer;

import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trainer on the real broker: a LoRA job on stories260k from {@code forge.training.requests} to a
 * SUCCEEDED status, falling-loss events, a merged model the engine loads and a card on
 * {@code forge.models}; bad inputs end FAILED with a clear error while the service goes on; a cancel
 * stops the job at its next step and keeps its checkpoints.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(TrainerTestResource.class)
class TrainingOverKafkaTest {
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(90);
    private static JobTopics topics;
    private static Path store;
    private static Path data;

    @BeforeAll
    static void connect() throws Exception {
        topics = new JobTopics(ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class));
        store = Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
        data = TinyTask.writeDataset(Files.createTempDirectory("forge-trainer-data-"));
    }

    @AfterAll
    static void close() {
        topics.close();
    }

    /** A few LoRA steps with a rate high enough that the loss falls within them. */
    static TrainingRequest.Builder quick(String jobId) {
        return TrainingRequest.builder(jobId)
                .lora(new TrainingRequest.LoraSettings(8, 16.0, 0.0, null))
                .learningRate(1e-2).scheduler(TrainingRequest.Scheduler.CONSTANT).warmupRatio(0.0)
                .microBatchSize(8).maxSeqLength(64).maxSteps(12).evalInterval(6).saveInterval(6).seed(42L);
    }

    @Test
    void readyWithKafkaAndWorker() {
        given().get("/q/health/ready").then().statusCode(200).body("status", is("UP"))
                .body(containsString("Kafka cluster")).body(containsString("Job workers"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("jvm_memory_used_bytes"));
    }

    @Test
    void trainsOverKafkaEndToEnd() throws Exception {
        String jobId = "train-" + UUID.randomUUID();
        // base model by folder name under forge.base-models; dataset by file: URI of a folder
        topics.send(quick(jobId).baseModel(TinyTask.MODEL).dataset(data.toUri().toString()).build());

        JobStatus done = topics.awaitTerminal(jobId, JOB_TIMEOUT);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        assertEquals("step-12", done.checkpoint());
        String modelId = "ft-" + jobId;
        assertEquals(modelId, done.result().get("model_id"));

        List<JobEvent> events = topics.events(jobId);
        TreeMap<Integer, Double> losses = JobTopics.stepLosses(events);
        assertEquals(12, losses.size(), "a progress event per step: " + losses);
        double first = mean(losses.headMap(4).values()), last = mean(losses.tailMap(10).values());
        assertTrue(last < 0.8 * first, "loss falls: first steps " + first + ", last steps " + last + " " + losses);
        JobEvent step = events.stream().filter(e -> e.type().equals(JobEvent.PROGRESS)).findFirst().orElseThrow();
        for (String key : List.of("step", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_s", "eta_s")) {
            assertNotNull(step.data().get(key), key + " in " + step.data());
        }
        List<Double> heldOut = events.stream().filter(e -> e.type().equals(JobProgress.EVAL))
                .map(e -> ((Number) e.data().get("held_out_loss")).doubleValue()).toList();
        assertEquals(3, heldOut.size(), "held-out loss before, at step 6 and at the end: " + heldOut);
        assertTrue(heldOut.get(2) < heldOut.get(0), "held-out loss falls: " + heldOut);
        assertTrue(events.stream().anyMatch(e -> e.type().equals(JobEvent.CHECKPOINT)), "checkpoint events");

        Path model = store.resolve("models").resolve(modelId);
        try (LoadedModel loaded = LoadedModel.load(model, ComputeTarget.cpu())) {
            assertEquals(ModelConfig.read(TinyTask.modelDir()).vocabSize(), loaded.config().vocabSize());
        }
        assertTrue(Files.isRegularFile(model.resolve("adapter/adapter_config.json")), "PEFT adapter");
        assertTrue(Files.isRegularFile(model.resolve("card.json")), "card.json");

        ModelCard card = topics.awaitModel(modelId, Duration.ofSeconds(10)).orElseThrow();
        assertEquals(ModelCard.Status.CANDIDATE, card.status());
        assertEquals(jobId, card.jobId());
        assertEquals(TinyTask.MODEL, card.baseModel());
        assertEquals(model.toUri().toString(), card.artifactUri());
        assertTrue(card.datasetHash().startsWith("sha256:"), card.datasetHash());
        assertEquals("lora", card.method());
        assertEquals(8, ((Number) card.hyperparameters().get("lora_r")).intValue());
        assertNotNull(card.eval().get("final_train_loss"));
        assertNotNull(card.eval().get("held_out_loss"));
    }

    /**
     * method dpo: preference JSONL in, progress with reward margin and accuracy, held-out preference
     * accuracy out; with gradient checkpointing, so that the request's field reaches the engine.
     */
    @Test
    void dpoOverKafka() throws Exception {
        Path prefs = TinyTask.writePreferences(Files.createTempDirectory("forge-dpo-data-"));
        String jobId = "dpo-" + UUID.randomUUID();
        topics.send(quick(jobId).method(TrainingRequest.Method.DPO).alpha(0.2).learningRate(5e-3).gradientCheckpointing(true)
                .baseModel(TinyTask.MODEL).dataset(prefs.toUri().toString()).build());

        JobStatus done = topics.awaitTerminal(jobId, JOB_TIMEOUT);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        List<JobEvent> events = topics.events(jobId);
        assertEquals(12, JobTopics.stepLosses(events).size());
        JobEvent last = events.stream().filter(e -> e.type().equals(JobEvent.PROGRESS)).reduce((a, b) -> b).orElseThrow();
        assertNotNull(last.data().get("reward_margin"), "reward margin in " + last.data());
        assertNotNull(last.data().get("accuracy"), "accuracy in " + last.data());
        List<Double> accuracy = events.stream().filter(e -> e.type().equals(JobProgress.EVAL))
                .map(e -> ((Number) e.data().get("held_out_preference_accuracy")).doubleValue()).toList();
        assertEquals(3, accuracy.size(), "held-out preference accuracy before, at step 6 and at the end: " + accuracy);
        System.out.printf("dpo over kafka: held-out preference accuracy %s%n", accuracy);
        assertTrue(accuracy.get(2) >= 0.75, "held-out preference accuracy after DPO: " + accuracy);
        assertEquals(accuracy.get(2), ((Number) done.metrics().get("held_out_preference_accuracy")).doubleValue());

        String modelId = "ft-" + jobId;
        ModelCard card = topics.awaitModel(modelId, Duration.ofSeconds(10)).orElseThrow();
        assertEquals("dpo", card.method());
        assertEquals(0.1, ((Number) card.hyperparameters().get("beta")).doubleValue());
        assertEquals(true, card.hyperparameters().get("gradient_checkpointing"));
        assertEquals(accuracy.get(2), ((Number) card.eval().get("held_out_preference_accuracy")).doubleValue());
        assertTrue(Files.isRegularFile(store.resolve("models").resolve(modelId).resolve("adapter/adapter_config.json")));
    }

    @Test
    void badInputsEndFailedAndTheServiceGoesOn() throws Exception {
        Path empty = Files.createDirectories(Files.createTempDirectory("forge-empty-").resolve("ds"));
        Files.writeString(empty.resolve("train.jsonl"), "\n");
        Path malformed = Files.createDirectories(Files.createTempDirectory("forge-malformed-").resolve("ds"));
        Files.write(malformed.resolve("train.jsonl"), List.of(TinyTask.line("a", "b"), TinyTask.line("c", "d"),
                "{\"messages\": [{\"role\": \"user\", \"content\": \"no end\"}"));
        Path bert = Files.createDirectories(Files.createTempDirectory("forge-bert-").resolve("bert"));
        Files.writeString(bert.resolve("config.json"), "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"]}");

        Map<String, TrainingRequest> bad = Map.of(
                "base model 'no-such-model' not found",
                quick("bad-" + UUID.randomUUID()).baseModel("no-such-model").dataset(data.toString()).build(),
                "dataset 'no-such-dataset' not found",
                quick("bad-" + UUID.randomUUID()).baseModel(TinyTask.MODEL).dataset("no-such-dataset").build(),
                "holds no examples",
                quick("bad-" + UUID.randomUUID()).baseModel(TinyTask.MODEL).dataset(empty.toString()).build(),
                "train.jsonl:3: not valid JSON",
                quick("bad-" + UUID.randomUUID()).baseModel(TinyTask.MODEL).dataset(malformed.toString()).build(),
                "lora.r",
                quick("bad-" + UUID.randomUUID()).baseModel(TinyTask.MODEL).dataset(data.toString())
                        .lora(new TrainingRequest.LoraSettings(0, 16.0, 0.0, null)).build(),
                "cannot be trained here: unsupported architecture: model_type 'bert'",
                quick("bad-" + UUID.randomUUID()).baseModel(bert.toString()).dataset(data.toString()).build());
        for (TrainingRequest r : bad.values()) topics.send(r);

        // the next good job: a dataset by id from the artifact store, the base model by path
        Files.createDirectories(store.resolve("datasets/fruit"));
        Files.copy(data.resolve("train.jsonl"), store.resolve("datasets/fruit/train.jsonl"));
        String good = "good-" + UUID.randomUUID();
        topics.send(quick(good).baseModel(TinyTask.modelDir().toString()).dataset("fruit").maxSteps(3)
                .modelId("fruit-model").build());

        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, TrainingRequest> e : bad.entrySet()) {
            JobStatus s = topics.awaitTerminal(e.getValue().jobId(), JOB_TIMEOUT);
            if (s.state() != JobState.FAILED || s.error() == null || !s.error().contains(e.getKey())) {
                problems.add("expected FAILED with '" + e.getKey() + "', got " + s.state() + ": " + s.error());
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        JobStatus s = topics.awaitTerminal(good, JOB_TIMEOUT);
        assertEquals(JobState.SUCCEEDED, s.state(), () -> "error: " + s.error());
        assertEquals("fruit-model", s.result().get("model_id"));
        assertTrue(topics.awaitModel("fruit-model", Duration.ofSeconds(10)).isPresent());
    }

    @Test
    void cancelStopsAtTheNextStepAndKeepsTheCheckpoint() throws Exception {
        String jobId = "cancel-" + UUID.randomUUID();
        topics.send(quick(jobId).baseModel(TinyTask.MODEL).dataset(data.toString()).maxSteps(2000).saveInterval(2).build());
        topics.awaitStatus(jobId, s -> s.checkpoint() != null || s.state().isTerminal(), JOB_TIMEOUT);
        topics.cancel(jobId, "test");

        JobStatus s = topics.awaitTerminal(jobId, JOB_TIMEOUT);
        assertEquals(JobState.CANCELLED, s.state(), () -> "error: " + s.error());
        int lastStep = JobTopics.stepLosses(topics.events(jobId)).lastKey();
        assertTrue(lastStep < 2000, "stopped early, at step " + lastStep);
        try (var checkpoints = Files.list(store.resolve("checkpoints").resolve(jobId))) {
            assertTrue(checkpoints.anyMatch(p -> p.getFileName().toString().startsWith("step-")), "checkpoint kept");
        }
        assertTrue(topics.modelRecords("ft-" + jobId).isEmpty(), "no model registered");
        assertTrue(Files.notExists(store.resolve("models").resolve("ft-" + jobId)), "no model written");
    }

    private static double mean(java.util.Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
