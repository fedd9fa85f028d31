package dev.forgeline.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.train.PreferenceDataset;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.kafka.TopicRecords;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The files and fine-tuning API over HTTP against the running gateway and the embedded broker:
 * uploads checked line by line and kept in the artifact store, jobs published as training
 * requests (read back from Kafka), cancels as JobCancels, and a job's state read from what the
 * workers publish on forge.jobs, forge.job-events and forge.models.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class FineTuningApiTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String GOOD_LINE = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            + "{\"role\":\"user\",\"content\":\"Fruit for red?\"},{\"role\":\"assistant\",\"content\":\"apple\"}]}";
    /** forge.gateway.files.max-bytes in the test profile. */
    static final int FILE_LIMIT = 1024 * 1024;

    // ---------------------------------------------------------------- files

    @Test
    void fileIsUploadedListedReadAndDeleted() throws Exception {
        String content = GOOD_LINE + "\n" + GOOD_LINE + "\n";
        HttpResponse<String> up = upload("train.jsonl", "fine-tune", content.getBytes(StandardCharsets.UTF_8));
        assertEquals(200, up.statusCode(), up.body());
        JsonNode file = JSON.readTree(up.body());
        String id = file.get("id").asText();
        assertTrue(id.startsWith("file-"), id);
        assertEquals("file", file.get("object").asText());
        assertEquals(content.length(), file.get("bytes").asInt());
        assertEquals("train.jsonl", file.get("filename").asText());
        assertEquals("fine-tune", file.get("purpose").asText());
        assertEquals("processed", file.get("status").asText());
        assertTrue(Math.abs(file.get("created_at").asLong() - Instant.now().getEpochSecond()) < 60);
        assertTrue(Files.isRegularFile(Path.of("target/test-artifacts/files/" + id + "/content.jsonl")));

        JsonNode list = JSON.readTree(get("/files").body());
        assertEquals("list", list.get("object").asText());
        assertTrue(list.get("data").findValuesAsText("id").contains(id), list.toString());
        assertEquals(file, JSON.readTree(get("/files/" + id).body()));
        HttpResponse<String> raw = get("/files/" + id + "/content");
        assertEquals(200, raw.statusCode());
        assertEquals(content, raw.body());

        HttpResponse<String> deleted = send("DELETE", "/files/" + id);
        assertEquals(200, deleted.statusCode(), deleted.body());
        assertEquals(JSON.readTree("{\"id\":\"" + id + "\",\"object\":\"file\",\"deleted\":true}"), JSON.readTree(deleted.body()));
        assertError(get("/files/" + id), 404, "file_not_found");
        assertError(get("/files/" + id + "/content"), 404, "file_not_found");
        assertFalse(JSON.readTree(get("/files").body()).get("data").findValuesAsText("id").contains(id));
    }

    @Test
    void malformedLinesAreRefusedByNumber() throws Exception {
        String content = GOOD_LINE + "\n{not json\n\n{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"
                + "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}\n"
                + "{\"messages\":[{\"role\":\"user\",\"content\":5},{\"role\":\"assistant\",\"content\":\"y\"}]}\n";
        HttpResponse<String> r = upload("bad.jsonl", "fine-tune", content.getBytes(StandardCharsets.UTF_8));
        JsonNode error = assertError(r, 400, null);
        assertEquals("file", error.get("param").asText());
        String message = error.get("message").asText();
        assertTrue(message.contains("line 2: not valid JSON"), message);
        assertTrue(message.contains("line 4: no assistant message"), message);
        assertTrue(message.contains("line 5: messages[0].role"), message);
        assertTrue(message.contains("line 6: messages[0].content must be a string"), message);
        assertFalse(message.contains("line 1:") || message.contains("line 3:"), message);
        assertError(upload("e.jsonl", "fine-tune", new byte[0]), 400, null);
        assertError(upload("u.jsonl", "fine-tune", new byte[] {'{', (byte) 0xC3, 0x28, '}'}), 400, null);
    }

    @Test
    void wrongPurposeMissingPartsAndOversizedFilesAreRefused() throws Exception {
        byte[] ok = (GOOD_LINE + "\n").getBytes(StandardCharsets.UTF_8);
        JsonNode purpose = assertError(upload("a.jsonl", "assistants", ok), 400, null);
        assertEquals("purpose", purpose.get("param").asText());
        assertEquals("purpose", assertError(upload("a.jsonl", null, ok), 400, null).get("param").asText());
        assertEquals("file", assertError(upload(null, "fine-tune", null), 400, null).get("param").asText());

        byte[] big = new byte[FILE_LIMIT + 1];
        java.util.Arrays.fill(big, (byte) ' ');
        assertError(upload("big.jsonl", "fine-tune", big), 413, "file_too_large");
        byte[] huge = new byte[FILE_LIMIT + 200_000];
        assertEquals(413, upload("huge.jsonl", "fine-tune", huge).statusCode());

        HttpResponse<String> json = GatewayTestSupport.HTTP.send(GatewayTestSupport.post("/files", "{}"),
                HttpResponse.BodyHandlers.ofString());
        assertError(json, 415, "unsupported_media_type");
    }

    @Test
    void unknownIdsAre404AndWrongMethods405() throws Exception {
        assertError(get("/files/file-nothing"), 404, "file_not_found");
        assertError(send("DELETE", "/files/file-nothing"), 404, "file_not_found");
        assertError(get("/files/file-nothing/content"), 404, "file_not_found");
        assertError(get("/fine_tuning/jobs/ftjob-nothing"), 404, "fine_tuning_job_not_found");
        assertError(get("/fine_tuning/jobs/ftjob-nothing/events"), 404, "fine_tuning_job_not_found");
        assertError(get("/fine_tuning/jobs/ftjob-nothing/checkpoints"), 404, "fine_tuning_job_not_found");
        assertError(post("/fine_tuning/jobs/ftjob-nothing/cancel", ""), 404, "fine_tuning_job_not_found");
        assertError(get("/fine_tuning/jobs/ftjob-x/other"), 404, "not_found");

        HttpResponse<String> put = send("PUT", "/files");
        assertError(put, 405, "method_not_allowed");
        assertEquals("GET, POST", put.headers().firstValue("Allow").orElse(null));
        assertError(send("POST", "/files/file-x"), 405, "method_not_allowed");
        assertError(send("PUT", "/files/file-x/content"), 405, "method_not_allowed");
        assertError(send("DELETE", "/fine_tuning/jobs"), 405, "method_not_allowed");
        assertError(send("DELETE", "/fine_tuning/jobs/ftjob-x"), 405, "method_not_allowed");
        assertError(send("GET", "/fine_tuning/jobs/ftjob-x/cancel"), 405, "method_not_allowed");
        assertError(send("POST", "/fine_tuning/jobs/ftjob-x/events"), 405, "method_not_allowed");
    }

    // ---------------------------------------------------------------- jobs

    @Test
    void jobBecomesATrainingRequestOnKafka() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            lines.add(GOOD_LINE.replace("red", "red " + i));
        }
        String training = fileId(String.join("\n", lines));
        String body = "{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training + "\","
                + "\"suffix\":\"fruit\",\"seed\":7,\"metadata\":{\"team\":\"fruit\"},"
                + "\"method\":{\"type\":\"supervised\",\"supervised\":{\"hyperparameters\":"
                + "{\"n_epochs\":2,\"batch_size\":\"auto\",\"learning_rate_multiplier\":10}}},"
                + "\"forge\":{\"method\":\"lora\",\"lora\":{\"r\":4,\"alpha\":8},\"max_steps\":30,\"max_seq_length\":64,"
                + "\"save_interval\":10}}";
        HttpResponse<String> created = post("/fine_tuning/jobs", body);
        assertEquals(200, created.statusCode(), created.body());
        JsonNode job = JSON.readTree(created.body());
        String id = job.get("id").asText();
        assertTrue(id.startsWith("ftjob-"), id);
        assertEquals("fine_tuning.job", job.get("object").asText());
        assertEquals("queued", job.get("status").asText());
        assertTrue(job.get("fine_tuned_model").isNull());
        assertEquals(training, job.get("training_file").asText());
        assertTrue(job.get("validation_file").isNull());
        assertEquals(7, job.get("seed").asLong());
        assertEquals(2, job.at("/hyperparameters/n_epochs").asInt());
        assertEquals(4, job.at("/hyperparameters/batch_size").asInt());
        assertEquals(10.0, job.at("/hyperparameters/learning_rate_multiplier").asDouble(), 1e-9);
        assertEquals("supervised", job.at("/method/type").asText());
        assertEquals("fruit", job.at("/metadata/team").asText());

        TrainingRequest request = TopicRecords.await(bootstrap(), Topics.TRAINING_REQUESTS, id, TrainingRequest.class,
                r -> true, Duration.ofSeconds(30));
        assertNotNull(request, "no training request for " + id);
        assertEquals(List.of(), request.validate());
        assertEquals(List.of("eval", "deploy"), request.then());
        assertEquals(EngineReference.MODEL, request.baseModel());
        assertEquals(id, request.dataset());
        assertEquals("ft:" + EngineReference.MODEL + ":fruit:" + id, request.modelId());
        assertEquals(2, request.epochs());
        assertEquals(10 * 2e-4, request.learningRate(), 1e-12);
        assertEquals(7L, request.seed());
        assertEquals(TrainingRequest.Method.LORA, request.method());
        assertEquals(4, request.lora().r());
        assertEquals(30, request.maxSteps());
        assertEquals(10, request.saveInterval());
        assertNull(request.eval().dataset(), "held-out loss only by default");
        assertTrue(request.eval().gate().heldOutMustBeatBase());
        // without a validation file every 10th example is held out
        Path dataset = Path.of("target/test-artifacts/datasets/" + id);
        assertEquals(18, Files.readAllLines(dataset.resolve("train.jsonl")).size());
        assertEquals(List.of(lines.get(9), lines.get(19)), Files.readAllLines(dataset.resolve("test.jsonl")));

        HttpResponse<String> cancel = post("/fine_tuning/jobs/" + id + "/cancel", "");
        assertEquals(200, cancel.statusCode(), cancel.body());
        for (String cancelled : List.of(id, id + "-eval")) {
            JobCancel c = TopicRecords.await(bootstrap(), Topics.JOB_CANCELS, cancelled, JobCancel.class, x -> true,
                    Duration.ofSeconds(30));
            assertNotNull(c, "no cancel for " + cancelled);
            assertEquals(cancelled, c.jobId());
        }
    }

    /** OpenAI's DPO line: the prompt in input.messages, one assistant message on each side. */
    static String dpoLine(String colour, String chosen, String rejected) {
        return "{\"input\":{\"messages\":[{\"role\":\"user\",\"content\":\"Fruit for " + colour + "?\"}],\"tools\":[],"
                + "\"parallel_tool_calls\":true},\"preferred_output\":[{\"role\":\"assistant\",\"content\":\"" + chosen + "\"}],"
                + "\"non_preferred_output\":[{\"role\":\"assistant\",\"content\":\"" + rejected + "\"}]}";
    }

    @Test
    void dpoJobBecomesADpoTrainingRequestOnPreferencePairs() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            lines.add(dpoLine("red " + i, "apple", "banana"));
        }
        String training = fileId(String.join("\n", lines));
        String body = "{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training + "\","
                + "\"method\":{\"type\":\"dpo\",\"dpo\":{\"hyperparameters\":{\"beta\":0.3,\"n_epochs\":2}}},"
                + "\"forge\":{\"max_steps\":12,\"max_seq_length\":64}}";
        HttpResponse<String> created = post("/fine_tuning/jobs", body);
        assertEquals(200, created.statusCode(), created.body());
        JsonNode job = JSON.readTree(created.body());
        String id = job.get("id").asText();
        assertEquals("dpo", job.at("/method/type").asText(), job.toString());
        assertEquals(0.3, job.at("/method/dpo/hyperparameters/beta").asDouble(), 1e-12, job.toString());
        assertEquals(2, job.at("/method/dpo/hyperparameters/n_epochs").asInt(), job.toString());
        assertFalse(job.get("method").has("supervised"), job.toString());

        TrainingRequest request = TopicRecords.await(bootstrap(), Topics.TRAINING_REQUESTS, id, TrainingRequest.class,
                r -> true, Duration.ofSeconds(30));
        assertNotNull(request, "no training request for " + id);
        assertEquals(List.of(), request.validate());
        assertEquals(TrainingRequest.Method.DPO, request.method());
        assertEquals(0.3, request.beta(), 1e-12);
        assertEquals(2, request.epochs());
        assertNotNull(request.lora(), "DPO trains LoRA adapters");
        // the trainer reads the pairs as they came: every line is a pair to the engine's reader
        Path dataset = Path.of("target/test-artifacts/datasets/" + id);
        List<String> train = Files.readAllLines(dataset.resolve("train.jsonl"));
        assertEquals(9, train.size());
        assertEquals(List.of(lines.get(9)), Files.readAllLines(dataset.resolve("test.jsonl")));
        for (String line : train) {
            assertEquals("apple", PreferenceDataset.parseLine(line).chosen().content());
        }

        // a preference file for a supervised job and a chat file for a DPO job are refused, by line
        String chat = fileId(GOOD_LINE + "\n" + GOOD_LINE);
        JsonNode wrongForDpo = assertError(post("/fine_tuning/jobs", "{\"model\":\"" + EngineReference.MODEL
                + "\",\"training_file\":\"" + chat + "\",\"method\":{\"type\":\"dpo\"}}"), 400, null);
        assertTrue(wrongForDpo.get("message").asText().contains("line 1: \"messages\" must end with a user turn"), wrongForDpo.toString());
        JsonNode wrongForSft = assertError(post("/fine_tuning/jobs", "{\"model\":\"" + EngineReference.MODEL
                + "\",\"training_file\":\"" + training + "\"}"), 400, null);
        assertTrue(wrongForSft.get("message").asText().contains("line 1: "), wrongForSft.toString());
    }

    @Test
    void malformedPreferenceLinesAreRefusedByNumber() throws Exception {
        String content = String.join("\n", dpoLine("red", "apple", "lime"), dpoLine("green", "lime", "apple"),
                dpoLine("blue", "berry", "kiwi").replace(",\"non_preferred_output\":[{\"role\":\"assistant\",\"content\":\"kiwi\"}]", ""),
                dpoLine("pink", "peach", "plum").replace("\"role\":\"user\"", "\"role\":\"assistant\""));
        JsonNode error = assertError(upload("bad-dpo.jsonl", "fine-tune", content.getBytes(StandardCharsets.UTF_8)), 400, null);
        String message = error.get("message").asText();
        assertEquals("file", error.get("param").asText());
        assertTrue(message.contains("line 3: missing \"non_preferred_output\""), message);
        assertTrue(message.contains("line 4: \"input.messages\" must end with a user turn"), message);
        assertFalse(message.contains("line 1:") || message.contains("line 2:"), message);
    }

    @Test
    void invalidJobRequestsAre400WithTheParam() throws Exception {
        String training = fileId(GOOD_LINE + "\n" + GOOD_LINE);
        String base = "\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training + "\"";
        Map<String, String> cases = Map.of(
                "{\"training_file\":\"" + training + "\"}", "model",
                "{\"model\":\"no-such-model\",\"training_file\":\"" + training + "\"}", "model",
                "{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"file-nothing\"}", "training_file",
                "{" + base + ",\"suffix\":\"a:b\"}", "suffix",
                "{" + base + ",\"hyperparameters\":{\"n_epochs\":\"many\"}}", "hyperparameters.n_epochs",
                "{" + base + ",\"hyperparameters\":{\"learning_rate_multiplier\":-1}}", "hyperparameters.learning_rate_multiplier",
                "{" + base + ",\"method\":{\"type\":\"reinforcement\"}}", "method.type",
                "{" + base + ",\"forge\":{\"method\":\"magic\"}}", "forge.method",
                "{" + base + ",\"forge\":{\"lora\":{\"r\":0}}}", "forge.lora.r",
                "{" + base + ",\"seed\":\"x\"}", "seed");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            JsonNode error = assertError(post("/fine_tuning/jobs", c.getKey()), 400, null);
            assertEquals(c.getValue(), error.path("param").asText(), c.getKey() + " -> " + error);
        }
        assertEquals("method.dpo.hyperparameters.beta", assertError(post("/fine_tuning/jobs", "{" + base
                + ",\"method\":{\"type\":\"dpo\",\"dpo\":{\"hyperparameters\":{\"beta\":0}}}}"), 400, null)
                .get("param").asText());
        String one = fileId(GOOD_LINE);
        assertEquals("training_file", assertError(post("/fine_tuning/jobs", "{\"model\":\"" + EngineReference.MODEL
                + "\",\"training_file\":\"" + one + "\"}"), 400, null).get("param").asText());
    }

    @Test
    void jobStateFollowsTheWorkersStatusesAndTheModelRegistry() throws Exception {
        String training = fileId(GOOD_LINE + "\n" + GOOD_LINE);
        String validation = fileId(GOOD_LINE);
        String id = create("{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training
                + "\",\"validation_file\":\"" + validation + "\",\"suffix\":\"s\"}");
        String model = "ft:" + EngineReference.MODEL + ":s:" + id;
        Instant t0 = Instant.now();
        publish(Topics.JOBS, id, JobStatus.queued(id, "train", t0).withState(JobState.RUNNING, t0)
                .withProgress(0.5, Map.of("eta_s", 30), t0));
        JsonNode running = awaitJob(id, j -> j.get("status").asText().equals("running"));
        assertTrue(running.get("estimated_finish").asLong() >= t0.getEpochSecond() + 29, running.toString());

        publish(Topics.JOB_EVENTS, id, new JobEvent(id, 1, 1, JobEvent.STATE, t0, Map.of("state", "RUNNING"), 0));
        publish(Topics.JOB_EVENTS, id, new JobEvent(id, 1, 2, JobEvent.PROGRESS, t0,
                Map.of("step", 5, "total_steps", 10, "loss", 2.5), 0));
        publish(Topics.JOB_EVENTS, id, new JobEvent(id, 1, 3, JobEvent.CHECKPOINT, t0, Map.of("marker", "step-5"), 0));
        publish(Topics.JOB_EVENTS, id, new JobEvent(id, 1, 4, JobEvent.PROGRESS, t0,
                Map.of("step", 10, "total_steps", 10, "loss", 1.5), 0));
        publish(Topics.JOB_EVENTS, id, new JobEvent(id, 1, 5, JobEvent.CHECKPOINT, t0, Map.of("marker", "step-10"), 0));
        Instant t1 = t0.plusSeconds(5);
        publish(Topics.JOBS, id, JobStatus.queued(id, "train", t0).withState(JobState.SUCCEEDED, t1)
                .withProgress(1, Map.of("trained_tokens", 1234), t1));
        JsonNode evaluating = awaitJob(id, j -> j.get("trained_tokens").asLong() == 1234);
        assertEquals("running", evaluating.get("status").asText(), "training done, evaluation to come");

        JsonNode checkpoints = awaitJson("/fine_tuning/jobs/" + id + "/checkpoints", c -> c.get("data").size() == 2);
        JsonNode newest = checkpoints.get("data").get(0);
        assertEquals("fine_tuning.job.checkpoint", newest.get("object").asText());
        assertEquals(10, newest.get("step_number").asInt());
        assertEquals(model + ":ckpt-step-10", newest.get("fine_tuned_model_checkpoint").asText());
        assertEquals(1.5, newest.at("/metrics/train_loss").asDouble(), 1e-9);
        assertEquals(2.5, checkpoints.get("data").get(1).at("/metrics/train_loss").asDouble(), 1e-9);
        JsonNode page = JSON.readTree(get("/fine_tuning/jobs/" + id + "/checkpoints?limit=1").body());
        assertTrue(page.get("has_more").asBoolean());

        Instant t2 = t1.plusSeconds(5);
        publish(Topics.JOBS, id + "-eval", JobStatus.queued(id + "-eval", "eval", t1).withState(JobState.SUCCEEDED, t2)
                .withResult(Map.of("gate_reason", "all passed"), t2));
        publish(Topics.MODELS, model, new ModelCard(model, EngineReference.MODEL, id, null, "lora", Map.of(),
                EngineReference.modelDir().toUri().toString(), null, Map.of("gate", "passed"), ModelCard.Status.APPROVED,
                EngineReference.MODEL, id, t1, 0));
        JsonNode succeeded = awaitJob(id, j -> j.get("status").asText().equals("succeeded"));
        assertEquals(model, succeeded.get("fine_tuned_model").asText());
        assertEquals(t2.getEpochSecond(), succeeded.get("finished_at").asLong());
        assertTrue(succeeded.get("error").isNull());

        JsonNode events = JSON.readTree(get("/fine_tuning/jobs/" + id + "/events").body());
        List<String> messages = events.get("data").findValuesAsText("message");
        assertTrue(messages.get(0).contains("New fine-tuned model created: " + model), messages.toString());
        assertTrue(messages.get(messages.size() - 1).startsWith("Created fine-tuning job"), messages.toString());
        assertTrue(messages.contains("Step 10/10: training loss=1.5"), messages.toString());
        assertEquals("fine_tuning.job.event", events.get("data").get(0).get("object").asText());
        String second = events.get("data").get(1).get("id").asText();
        JsonNode after = JSON.readTree(get("/fine_tuning/jobs/" + id + "/events?limit=2&after=" + second).body());
        assertEquals(events.get("data").get(2), after.get("data").get(0));

        // the approved ft: model, colons and all, is listed, found and served
        HttpResponse<String> found = get("/models/" + URLEncoder.encode(model, StandardCharsets.UTF_8));
        assertEquals(200, found.statusCode(), found.body());
        assertEquals(model, JSON.readTree(found.body()).get("id").asText());
        assertEquals(200, get("/models/" + model).statusCode());
        HttpResponse<String> chat = post("/chat/completions", "{\"model\":\"" + model
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}");
        assertEquals(200, chat.statusCode(), chat.body());

        // a finished job cannot be cancelled; the list has it, newest first
        assertError(post("/fine_tuning/jobs/" + id + "/cancel", ""), 400, null);
        JsonNode jobs = JSON.readTree(get("/fine_tuning/jobs?limit=100").body());
        assertEquals("list", jobs.get("object").asText());
        assertTrue(jobs.get("data").findValuesAsText("id").contains(id));
    }

    @Test
    void gateRejectionAndTrainingFailureAreFailedWithAClearError() throws Exception {
        String training = fileId(GOOD_LINE + "\n" + GOOD_LINE);
        String rejected = create("{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training + "\"}");
        String broken = create("{\"model\":\"" + EngineReference.MODEL + "\",\"training_file\":\"" + training + "\"}");
        String model = "ft:" + EngineReference.MODEL + "::" + rejected;
        Instant t = Instant.now();
        publish(Topics.JOBS, rejected, JobStatus.queued(rejected, "train", t).withState(JobState.SUCCEEDED, t));
        publish(Topics.JOBS, rejected + "-eval", JobStatus.queued(rejected + "-eval", "eval", t)
                .withState(JobState.SUCCEEDED, t).withResult(Map.of("gate_reason", "held-out loss 2.0 is not below 1.9"), t));
        publish(Topics.MODELS, model, new ModelCard(model, EngineReference.MODEL, rejected, null, "lora", Map.of(),
                EngineReference.modelDir().toUri().toString(), null, Map.of("gate", "failed"), ModelCard.Status.REJECTED,
                EngineReference.MODEL, rejected, t, 0));
        publish(Topics.JOBS, broken, JobStatus.queued(broken, "train", t).withState(JobState.FAILED, t)
                .withError("dataset 'x': out of memory", t));

        JsonNode gate = awaitJob(rejected, j -> j.get("status").asText().equals("failed"));
        assertEquals("eval_gate_failed", gate.at("/error/code").asText());
        assertTrue(gate.at("/error/message").asText().contains("held-out loss 2.0 is not below 1.9"), gate.toString());
        assertTrue(gate.get("fine_tuned_model").isNull());
        assertEquals(404, get("/models/" + model).statusCode(), "a rejected model is not served");

        JsonNode failed = awaitJob(broken, j -> j.get("status").asText().equals("failed"));
        assertEquals("training_failed", failed.at("/error/code").asText());
        assertTrue(failed.at("/error/message").asText().contains("out of memory"), failed.toString());
    }

    // ---------------------------------------------------------------- helpers

    static String bootstrap() {
        return KafkaBrokerTestResource.broker().bootstrapServers();
    }

    static void publish(String topic, String key, Object value) throws Exception {
        TopicRecords.send(bootstrap(), topic, key, value);
    }

    static String fileId(String content) throws Exception {
        HttpResponse<String> r = upload("f.jsonl", "fine-tune", content.getBytes(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("id").asText();
    }

    static String create(String body) throws Exception {
        HttpResponse<String> r = post("/fine_tuning/jobs", body);
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("id").asText();
    }

    static JsonNode awaitJob(String id, Predicate<JsonNode> until) throws Exception {
        return awaitJson("/fine_tuning/jobs/" + id, until);
    }

    /** The platform view follows the topics: poll until it has caught up. */
    static JsonNode awaitJson(String path, Predicate<JsonNode> until) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get(path);
            if (r.statusCode() == 200) {
                last = JSON.readTree(r.body());
                if (until.test(last)) {
                    return last;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError(path + " never matched; last: " + last);
    }

    /** The error body in OpenAI's shape; {@code code} checked when given. */
    static JsonNode assertError(HttpResponse<String> r, int status, String code) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertNotNull(error, r.body());
        assertTrue(error.get("message").isTextual() && error.get("type").isTextual() && error.has("param")
                && error.has("code"), r.body());
        if (code != null) {
            assertEquals(code, error.get("code").asText(), r.body());
        }
        return error;
    }

    static HttpResponse<String> upload(String filename, String purpose, byte[] content) throws Exception {
        String boundary = "forge" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (purpose != null) {
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose
                    + "\r\n").getBytes(StandardCharsets.UTF_8));
        }
        if (content != null) {
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                    + "\"\r\nContent-Type: application/jsonl\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            body.writeBytes(content);
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return GatewayTestSupport.HTTP.send(HttpRequest.newBuilder(URI.create(GatewayTestSupport.v1() + "/files"))
                .header("Authorization", "Bearer " + GatewayTestSupport.KEY)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(String path) throws Exception {
        return send("GET", path);
    }

    static HttpResponse<String> post(String path, String json) throws Exception {
        return GatewayTestSupport.HTTP.send(GatewayTestSupport.post(path, json), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> send(String method, String path) throws Exception {
        return GatewayTestSupport.HTTP.send(HttpRequest.newBuilder(URI.create(GatewayTestSupport.v1() + path))
                .header("Authorization", "Bearer " + GatewayTestSupport.KEY)
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
