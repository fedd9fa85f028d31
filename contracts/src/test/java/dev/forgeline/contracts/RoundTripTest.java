package dev.forgeline.contracts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RoundTripTest {
    private static final Instant T = Instant.parse("2025-01-02T03:04:05.678Z");

    /** Writes with the shared mapper, reads back with it and with a plain one (as Quarkus's would be). */
    private static <T> JsonNode roundTrip(T value) throws Exception {
        String json = ContractsJson.write(value);
        @SuppressWarnings("unchecked") Class<T> type = (Class<T>) value.getClass();
        assertEquals(value, ContractsJson.read(json, type), json);
        ObjectMapper plain = new ObjectMapper().registerModule(new JavaTimeModule());
        assertEquals(value, plain.readValue(json, type), "a default ObjectMapper reads " + json);
        assertEquals(value, ContractsJson.read(plain.writeValueAsString(value), type), "a default ObjectMapper writes it too");
        JsonNode tree = ContractsJson.mapper().readTree(json);
        tree.fieldNames().forEachRemaining(name ->
                assertTrue(name.equals(name.toLowerCase()) , "snake_case field name: " + name + " in " + json));
        return tree;
    }

    @Test
    void trainingRequest() throws Exception {
        TrainingRequest r = TrainingRequest.builder("job-1").baseModel("file:/models/smol").dataset("ds-1")
                .then(List.of("eval", "deploy")).method(TrainingRequest.Method.LORA)
                .lora(new TrainingRequest.LoraSettings(16, 32.0, 0.1, List.of("q_proj", "v_proj")))
                .maxSteps(100).learningRate(1e-4).scheduler(TrainingRequest.Scheduler.LINEAR).packing(true)
                .lossOn(TrainingRequest.LossOn.ALL).modelId("m-1").build();
        JsonNode tree = roundTrip(r);
        assertEquals("lora", tree.get("method").asText());
        assertEquals(16, tree.get("lora").get("r").asInt());
        assertEquals("q_proj", tree.get("lora").get("target_modules").get(0).asText());
        assertEquals("linear", tree.get("scheduler").asText());
        assertEquals("all", tree.get("loss_on").asText());
        assertEquals(1e-4, tree.get("learning_rate").asDouble());
        assertEquals(1, tree.get("schema_version").asInt());
        assertEquals(1, tree.get("gradient_accumulation_steps").asInt());
        roundTrip(TrainingRequest.builder("job-2").baseModel("b").dataset("d").method(TrainingRequest.Method.FREEZE)
                .trainableLayers(4).build());
        TrainingRequest average = TrainingRequest.builder("avg").method(TrainingRequest.Method.AVERAGE).then(List.of("eval"))
                .models(List.of(WeightedModel.of("m-1"), new WeightedModel("m-2", 2.0))).build();
        JsonNode chain = roundTrip(TrainingRequest.builder("job-3").baseModel("b").dataset("d").then(List.of("train"))
                .train(average).build());
        assertEquals("average", chain.get("train").get("method").asText());
        assertEquals(2.0, chain.get("train").get("models").get(1).get("weight").asDouble());
        assertFalse(chain.get("train").has("learning_rate"), "an average gets no training defaults: " + chain);
    }

    @Test
    void datagenAndEvalRequests() throws Exception {
        JsonNode datagen = roundTrip(DatagenRequest.builder("job-3").then(List.of("train", "eval")).task("answer in French")
                .datasetId("ds-9").numExamples(50).testFraction(0.2)
                .teacher(new DatagenRequest.Teacher("http://vllm:8000/v1", "big", "TEACHER_KEY")).systemPrompt("You are terse.")
                .temperature(0.5).maxConcurrency(16).maxTokensPerCall(512).budgetTokens(100_000L).seed(7L)
                .nearDuplicateThreshold(0.7)
                .seedExamples(List.of(new DatagenRequest.Conversation(List.of(ChatTurn.user("Bonjour ?"), ChatTurn.assistant("Oui.")))))
                .train(TrainingRequest.builder(null).baseModel("file:/models/base").eval(new EvalSettings(null, null, null, null, null, null, null)).build())
                .build());
        assertEquals("TEACHER_KEY", datagen.get("teacher").get("api_key_env").asText());
        assertEquals("user", datagen.get("seed_examples").get(0).get("messages").get(0).get("role").asText());
        assertEquals(100_000L, datagen.get("budget_tokens").asLong());
        roundTrip(DatagenRequest.builder("job-5").source(new DatagenRequest.Source("uploads/a.jsonl", DatagenRequest.Format.PROMPT_COMPLETION)).build());
        JsonNode tree = roundTrip(new EvalRequest("job-4", 1, List.of("deploy"), "m-1", "base", "file:/mmlu",
                List.of("anatomy"), 3, 20, EvalRequest.Mode.GENERATE, 16, "ds-1", new EvalRequest.Gate(0.05, false, 0.3, 2.5)));
        assertEquals(0.3, tree.get("gate").get("min_accuracy").asDouble());
        assertEquals(0.05, tree.get("gate").get("max_accuracy_drop").asDouble());
        assertEquals("generate", tree.get("mode").asText());
        assertEquals(3, tree.get("num_fewshot").asInt());
        assertEquals("file:/mmlu", tree.get("dataset").asText());
    }

    @Test
    void statusEventCancelDeadLetter() throws Exception {
        JsonNode status = roundTrip(new JobStatus("job-1", "train", JobState.RUNNING, 0.25, Map.of("loss", 1.5, "step", 30),
                Map.of("model_id", "m-1"), null, "step-30", 2, "trainer-1", T, T.plusSeconds(5), 1));
        assertEquals("RUNNING", status.get("state").asText());
        assertEquals("step-30", status.get("checkpoint").asText());
        assertEquals("2025-01-02T03:04:05.678Z", status.get("created_at").asText());
        assertFalse(status.has("error"), "nulls are left out");
        roundTrip(new JobEvent("job-1", 2, 17, JobEvent.PROGRESS, T, Map.of("step", 30, "loss", 1.5, "lr", 1e-4,
                "tokens_per_s", 900.5, "eta_s", 120), 1));
        roundTrip(JobCancel.of("job-1", "user asked"));
        JsonNode dl = roundTrip(new DeadLetter("invalid TrainingRequest: lora.r: must be > 0",
                List.of(new FieldError("lora.r", "must be > 0")), "forge.training.requests", 2, 41, "job-1",
                "{\"job_id\":\"job-1\"}", T, 1));
        assertEquals("forge.training.requests", dl.get("source_topic").asText());
        assertEquals("{\"job_id\":\"job-1\"}", dl.get("value").asText());
        assertEquals("lora.r", dl.get("errors").get(0).get("field").asText());
    }

    @Test
    void cards() throws Exception {
        roundTrip(new DatasetCard("ds-1", "answer in French", "chat", "file:/a/datasets/ds-1/train.jsonl",
                "file:/a/datasets/ds-1/test.jsonl", 180, 20, "sha256:abc", "teacher", "generated:job-3",
                "Given a question, you will answer in French.", Map.of("rejected", 3), T, 1));
        JsonNode card = roundTrip(new ModelCard("m-1", "smol", "ds-1", "sha256:abc", "lora",
                Map.of("learning_rate", 1e-4, "lora", Map.of("r", 16)), "file:/a/models/m-1",
                new ModelCard.RemoteBackend(ModelCard.RemoteBackend.Type.DJL_LMI, "http://lmi:8080/v1", "m-1"),
                Map.of("accuracy", 0.41), ModelCard.Status.APPROVED, "smol", "job-1", T, 1));
        assertEquals("djl-lmi", card.get("remote").get("type").asText());
        assertEquals("approved", card.get("status").asText());
        assertEquals("file:/a/models/m-1", card.get("artifact_uri").asText());
        assertFalse(card.has("parents"));
        JsonNode average = roundTrip(new ModelCard("avg-1", "smol", null, null, "average", Map.of(), "file:/a/models/avg-1",
                null, Map.of(), null, "smol", List.of(new WeightedModel("m-1", 0.25), new WeightedModel("m-2", 0.75)),
                "job-2", T, 1));
        assertEquals("m-2", average.get("parents").get(1).get("model").asText());
        assertEquals(0.75, average.get("parents").get(1).get("weight").asDouble());
    }

    @Test
    void omittedFieldsGetDefaultsAndUnknownFieldsAreIgnored() throws Exception {
        TrainingRequest r = ContractsJson.read("""
                {"job_id":"j","base_model":"b","dataset":"d","a_field_from_the_future":{"x":1}}""", TrainingRequest.class);
        assertEquals(SchemaVersion.CURRENT, r.schemaVersion());
        assertEquals(List.of(), r.then());
        assertEquals(TrainingRequest.Method.LORA, r.method());
        assertEquals(TrainingRequest.LoraSettings.ALL_LINEAR, r.lora().targetModules());
        assertEquals(8, r.lora().r());
        assertEquals(16.0, r.lora().alpha());
        assertEquals(3, r.epochs());
        assertEquals(2e-4, r.learningRate());
        assertEquals(TrainingRequest.Scheduler.COSINE, r.scheduler());
        assertEquals(TrainingRequest.LossOn.ASSISTANT, r.lossOn());
        assertEquals(1, r.gradientAccumulationSteps());
        assertEquals(false, r.packing());
        assertEquals(42L, r.seed());
        assertEquals(List.of(), r.validate());

        EvalRequest e = ContractsJson.read("{\"job_id\":\"e\",\"model\":\"m\",\"dataset\":\"x\"}", EvalRequest.class);
        assertEquals(5, e.numFewshot());
        assertEquals(List.of(), e.subjects());
        DatagenRequest d = ContractsJson.read("{\"job_id\":\"g\",\"task\":\"t\"}", DatagenRequest.class);
        assertEquals("g", d.datasetId());
        assertEquals(200, d.numExamples());
        JobStatus s = ContractsJson.read("{\"job_id\":\"g\",\"state\":\"SUCCEEDED\",\"extra\":true}", JobStatus.class);
        assertEquals(Map.of(), s.metrics());
        assertTrue(s.state().isTerminal());
    }

    @Test
    void jobStatesKnowWhichAreTerminal() {
        assertFalse(JobState.QUEUED.isTerminal());
        assertFalse(JobState.RUNNING.isTerminal());
        assertTrue(JobState.SUCCEEDED.isTerminal());
        assertTrue(JobState.FAILED.isTerminal());
        assertTrue(JobState.CANCELLED.isTerminal());
    }
}
