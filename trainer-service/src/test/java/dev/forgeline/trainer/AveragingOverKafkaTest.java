package dev.forgeline.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DeadLetter;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.weights.RandomModel;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code method: average} on the real broker: two random-weight models of one shape averaged with
 * weights 1 and 2 give safetensors equal bit for bit to the float32 weighted mean computed here from
 * the raw files, and a card whose lineage lists both parents with their normalised weights; a shape
 * mismatch, an unknown model and a PEFT adapter end FAILED with a clear error; invalid requests go to
 * forge.dlq with their field errors.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(TrainerTestResource.class)
class AveragingOverKafkaTest {
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(60);
    private static JobTopics topics;
    private static Path store;
    private static Path dir;

    @BeforeAll
    static void connect() throws Exception {
        topics = new JobTopics(ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class));
        store = Path.of(ConfigProvider.getConfig().getValue("forge.artifacts.root", String.class));
        dir = Files.createTempDirectory("forge-average-");
    }

    @AfterAll
    static void close() {
        topics.close();
    }

    private static ModelConfig shape(int intermediateSize) {
        return ModelConfig.builder("llama").hiddenSize(32).intermediateSize(intermediateSize).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(128)
                .tieWordEmbeddings(false).build();
    }

    private static TrainingRequest average(String jobId, WeightedModel... models) {
        return TrainingRequest.builder(jobId).method(TrainingRequest.Method.AVERAGE).models(List.of(models)).build();
    }

    @Test
    void theAverageIsTheWeightedMeanBitForBitAndItsCardListsTheParents() throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        RandomModel.write(a, shape(64), 1);
        RandomModel.write(b, shape(64), 2);
        String jobId = "avg-" + UUID.randomUUID();
        // one by path, one by file: URI; weights 1 and 2 normalise to 1/3 and 2/3
        topics.send(average(jobId, WeightedModel.of(a.toString()), new WeightedModel(b.toUri().toString(), 2.0)));

        JobStatus done = topics.awaitTerminal(jobId, JOB_TIMEOUT);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        String modelId = "ft-" + jobId;
        Path model = store.resolve("models").resolve(modelId);
        assertEquals(modelId, done.result().get("model_id"));
        assertEquals(model.toUri().toString(), done.result().get("artifact_uri"));

        Map<String, float[]> x = floats(a.resolve("model.safetensors"));
        Map<String, float[]> y = floats(b.resolve("model.safetensors"));
        Map<String, float[]> mean = floats(model.resolve("model.safetensors"));
        assertEquals(x.keySet(), mean.keySet());
        float wx = (float) (1.0 / 3.0);
        float wy = (float) (2.0 / 3.0);
        long checked = 0;
        for (String name : x.keySet()) {
            float[] got = mean.get(name);
            assertEquals(x.get(name).length, got.length, name);
            for (int i = 0; i < got.length; i++) {
                float expected = 0f;
                expected += wx * x.get(name)[i];
                expected += wy * y.get(name)[i];
                if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(got[i])) {
                    throw new AssertionError(name + "[" + i + "]: " + got[i] + " is not " + expected);
                }
                checked++;
            }
        }
        assertTrue(checked > 10_000, "compared " + checked + " weights");
        try (LoadedModel loaded = LoadedModel.load(model, ComputeTarget.cpu())) {
            assertEquals(300, loaded.config().vocabSize(), "the average loads as a model");
        }

        ModelCard card = topics.awaitModel(modelId, Duration.ofSeconds(10)).orElseThrow();
        assertEquals("average", card.method());
        assertEquals(ModelCard.Status.CANDIDATE, card.status());
        assertEquals(jobId, card.jobId());
        assertEquals(List.of(new WeightedModel(a.toString(), 1.0 / 3.0), new WeightedModel(b.toUri().toString(), 2.0 / 3.0)),
                card.parents());
        assertEquals(a.toString(), card.baseModel(), "no card on the first model: it is the base");
        JsonNode written = ContractsJson.mapper().readTree(model.resolve("card.json").toFile());
        assertEquals(2.0 / 3.0, written.get("parents").get(1).get("weight").asDouble());
        List<JobEvent> events = topics.events(jobId);
        assertTrue(events.stream().anyMatch(e -> e.type().equals(JobEvent.PROGRESS)), "progress events: " + events);
    }

    @Test
    void otherShapesUnknownModelsAndAdaptersEndFailedWithTheReason() throws Exception {
        Path narrow = dir.resolve("narrow");
        Path wide = dir.resolve("wide");
        RandomModel.write(narrow, shape(64), 3);
        RandomModel.write(wide, shape(96), 4);
        Path adapter = Files.createDirectories(dir.resolve("adapter-only"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 8}");
        Map<String, TrainingRequest> bad = Map.of(
                "cannot average " + narrow + " and " + wide + ": model.layers.0.mlp.down_proj.weight is [32, 64] in one"
                        + " and [32, 96] in the other",
                average("shape-" + UUID.randomUUID(), WeightedModel.of(narrow.toString()), WeightedModel.of(wide.toString())),
                "models[1] 'no-such-model' not found",
                average("unknown-" + UUID.randomUUID(), WeightedModel.of(narrow.toString()), WeightedModel.of("no-such-model")),
                "cannot be averaged here: it is a PEFT adapter (adapter_config.json)",
                average("adapter-" + UUID.randomUUID(), WeightedModel.of(narrow.toString()), WeightedModel.of(adapter.toString())));
        for (TrainingRequest r : bad.values()) topics.send(r);
        for (Map.Entry<String, TrainingRequest> e : bad.entrySet()) {
            JobStatus s = topics.awaitTerminal(e.getValue().jobId(), JOB_TIMEOUT);
            assertEquals(JobState.FAILED, s.state(), e.getKey());
            assertTrue(s.error().contains(e.getKey()), "expected '" + e.getKey() + "' in: " + s.error());
            assertTrue(topics.modelRecords("ft-" + e.getValue().jobId()).isEmpty(), "no model registered");
        }
    }

    @Test
    void invalidRequestsGoToTheDeadLetterTopicWithTheirFieldErrors() throws Exception {
        String oneModel = "dlq-" + UUID.randomUUID();
        topics.send(TrainingRequest.builder(oneModel).method(TrainingRequest.Method.AVERAGE)
                .models(List.of(new WeightedModel("m1", -1.0))).learningRate(1e-3).build());
        String chain = "dlq-" + UUID.randomUUID();
        topics.send(TrainingRequest.builder(chain).baseModel(TinyTask.MODEL).dataset("sft").then(List.of("train"))
                .train(TrainingRequest.builder(null).method(TrainingRequest.Method.DPO).dataset("prefs").then(List.of("train"))
                        .train(TrainingRequest.builder(null).method(TrainingRequest.Method.AVERAGE)
                                .models(List.of(WeightedModel.of("x"))).build()).build()).build());

        assertEquals(List.of(new FieldError("models", "method average needs two or more models, got 1"),
                        new FieldError("models[0].weight", "must be a positive number"),
                        new FieldError("learning_rate", "does not apply to method average: it trains nothing")),
                topics.awaitDeadLetter(oneModel, JOB_TIMEOUT).orElseThrow().errors());
        DeadLetter nested = topics.awaitDeadLetter(chain, JOB_TIMEOUT).orElseThrow();
        assertEquals(List.of(new FieldError("train.train.models", "method average needs two or more models, got 1")),
                nested.errors());
        assertTrue(nested.reason().startsWith("invalid TrainingRequest: train.train.models"), nested.reason());
    }

    /** Every F32 tensor of a safetensors file, read from its bytes (8-byte header length, JSON header, data). */
    static Map<String, float[]> floats(Path file) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = Math.toIntExact(bytes.getLong(0));
        JsonNode header = ContractsJson.mapper().readTree(new String(bytes.array(), 8, headerLength, StandardCharsets.UTF_8));
        Map<String, float[]> tensors = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) continue;
            assertEquals("F32", e.getValue().get("dtype").asText(), e.getKey());
            int begin = 8 + headerLength + e.getValue().get("data_offsets").get(0).asInt();
            int end = 8 + headerLength + e.getValue().get("data_offsets").get(1).asInt();
            float[] values = new float[(end - begin) / 4];
            bytes.slice(begin, end - begin).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            tensors.put(e.getKey(), values);
        }
        return tensors;
    }
}
