package dev.forgeline.trainer;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.train.ModelExport;
import dev.forgeline.engine.train.PeftAdapter;
import dev.forgeline.engine.train.TrainableSet;
import dev.forgeline.engine.train.TrainingConfig;
import dev.forgeline.engine.weights.RandomModel;
import dev.forgeline.engine.weights.SafetensorsWriter;
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
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code method: average} on the real broker: two random-weight models of one shape averaged with
 * weights 1 and 2 give safetensors equal bit for bit to the float32 weighted mean computed here from
 * the raw files, and a card whose lineage lists both parents with their normalised weights; a PEFT
 * adapter is merged into its base first; a shape mismatch, an unknown model and an adapter that names
 * no base end FAILED with a clear error; invalid requests go to forge.dlq with their field errors.
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

        assertWeightedMean(a, (float) (1.0 / 3.0), b, (float) (2.0 / 3.0), model);
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

    /**
     * A PEFT adapter (random B on every projection of a random base) averaged with another model:
     * the trainer merges it into the base its adapter_config.json names, and the average equals
     * the float32 mean of that merged model and the other bit for bit; lineage names the adapter.
     */
    @Test
    void aPeftAdapterIsMergedIntoItsBaseAndThenAveraged() throws Exception {
        Path base = dir.resolve("peft-base");
        Path other = dir.resolve("peft-other");
        Path adapter = dir.resolve("peft-adapter");
        RandomModel.write(base, shape(64), 5);
        RandomModel.write(other, shape(64), 6);
        TrainingConfig.LoraConfig lora = new TrainingConfig.LoraConfig(4, 8.0, 0.0, TrainingConfig.LoraConfig.ALL_LINEAR);
        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            TrainableSet set = TrainableSet.lora(model, lora, 3);
            set.freeze();
            SplittableRandom random = new SplittableRandom(9);
            for (LoraAdapter a : set.adapters().values()) {
                float[] v = new float[(int) a.b().size()];
                for (int i = 0; i < v.length; i++) v[i] = (float) (random.nextDouble() - 0.5) * 0.2f;
                a.b().set(FloatBuffer.wrap(v));
            }
            ModelExport.writeAdapter(set, lora, base.toString(), adapter);
        }
        // The merged model the trainer must have averaged, made here by the engine's one merge.
        Path merged = PeftAdapter.read(adapter).mergeInto(base, dir.resolve("peft-merged"));
        String q = "model.layers.0.self_attn.q_proj.weight";
        assertTrue(!java.util.Arrays.equals(floats(base.resolve("model.safetensors")).get(q),
                floats(merged.resolve("model.safetensors")).get(q)), "the adapter changed the weights");

        String jobId = "avg-peft-" + UUID.randomUUID();
        topics.send(average(jobId, WeightedModel.of(adapter.toString()), WeightedModel.of(other.toString())));
        JobStatus done = topics.awaitTerminal(jobId, JOB_TIMEOUT);
        assertEquals(JobState.SUCCEEDED, done.state(), () -> "error: " + done.error());
        String modelId = "ft-" + jobId;
        assertWeightedMean(merged, 0.5f, other, 0.5f, store.resolve("models").resolve(modelId));

        ModelCard card = topics.awaitModel(modelId, Duration.ofSeconds(10)).orElseThrow();
        assertEquals(List.of(new WeightedModel(adapter.toString(), 0.5), new WeightedModel(other.toString(), 0.5)),
                card.parents());
        assertEquals(base.toString(), card.baseModel(), "the adapter's base is the average's base");
    }

    @Test
    void otherShapesUnknownModelsAndAdaptersEndFailedWithTheReason() throws Exception {
        Path narrow = dir.resolve("narrow");
        Path wide = dir.resolve("wide");
        RandomModel.write(narrow, shape(64), 3);
        RandomModel.write(wide, shape(96), 4);
        Path adapter = Files.createDirectories(dir.resolve("adapter-without-base"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16}");
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            String q = "base_model.model.model.layers.0.self_attn.q_proj.";
            SafetensorsWriter.write(adapter.resolve("adapter_model.safetensors"), Map.of(
                    q + "lora_A.weight", m.zeros(new Shape(8, 32)), q + "lora_B.weight", m.zeros(new Shape(32, 8))), Map.of());
        }
        Map<String, TrainingRequest> bad = Map.of(
                "cannot average " + narrow + " and " + wide + ": model.layers.0.mlp.down_proj.weight is [32, 64] in one"
                        + " and [32, 96] in the other",
                average("shape-" + UUID.randomUUID(), WeightedModel.of(narrow.toString()), WeightedModel.of(wide.toString())),
                "models[1] 'no-such-model' not found",
                average("unknown-" + UUID.randomUUID(), WeightedModel.of(narrow.toString()), WeightedModel.of("no-such-model")),
                "is a PEFT adapter whose adapter_config.json names no base_model_name_or_path; set base_model",
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

    /** model.safetensors of {@code mean} is {@code wx * x + wy * y} in float32, summed in that order, bit for bit. */
    private static void assertWeightedMean(Path a, float wx, Path b, float wy, Path mean) throws IOException {
        Map<String, float[]> x = floats(a.resolve("model.safetensors"));
        Map<String, float[]> y = floats(b.resolve("model.safetensors"));
        Map<String, float[]> got = floats(mean.resolve("model.safetensors"));
        assertEquals(x.keySet(), got.keySet());
        long checked = 0;
        for (String name : x.keySet()) {
            float[] g = got.get(name);
            assertEquals(x.get(name).length, g.length, name);
            for (int i = 0; i < g.length; i++) {
                float expected = 0f;
                expected += wx * x.get(name)[i];
                expected += wy * y.get(name)[i];
                if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(g[i])) {
                    throw new AssertionError(name + "[" + i + "]: " + g[i] + " is not " + expected);
                }
                checked++;
            }
        }
        assertTrue(checked > 10_000, "compared " + checked + " weights");
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
