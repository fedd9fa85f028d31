package dev.forgeline.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's data API answers from what is on the platform's topics and in the artifact
 * store: a chain datagen -> train -> eval published here, as the services would, and the files they
 * would write. Also: the keys, OpenAI-shaped errors, the live stream, and the static page.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class DashboardTest {

    static final String RUN = Long.toString(System.nanoTime(), 36);
    static final String TRAIN = "train-" + RUN;
    static final String EVAL = TRAIN + "-eval";
    static final String MODEL = "ft-" + TRAIN;
    static final String DATASET = "ds-" + RUN;
    static final String DATAGEN = "datagen-" + RUN;

    @Inject
    ArtifactStore store;

    private static boolean published;

    /** Once, before the first test (RestAssured knows the test port only per test, so not @BeforeAll). */
    @BeforeEach
    void publishAChain() throws Exception {
        if (published) {
            return;
        }
        published = true;
        Instant t0 = Instant.now().minusSeconds(600);
        StringBuilder train = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            train.append("{\"messages\":[{\"role\":\"user\",\"content\":\"q").append(i)
                    .append("\"},{\"role\":\"assistant\",\"content\":\"a").append(i).append("\"}]}\n");
        }
        store.write("datasets/" + DATASET + "/train.jsonl", train.toString().getBytes(StandardCharsets.UTF_8));
        store.write("evals/" + EVAL + "/report.json", ("{\"job_id\":\"" + EVAL + "\","
                + "\"model\":{\"model\":\"" + MODEL + "\",\"acc\":{\"value\":0.6,\"n\":20},"
                + "\"subjects\":{\"astronomy\":{\"n\":10,\"correct\":7,\"acc\":0.7},\"anatomy\":{\"n\":10,\"correct\":5,\"acc\":0.5}},"
                + "\"held_out\":{\"loss\":1.2}},"
                + "\"base\":{\"model\":\"stories260k\",\"acc\":{\"value\":0.45,\"n\":20},"
                + "\"subjects\":{\"astronomy\":{\"n\":10,\"correct\":4,\"acc\":0.4},\"anatomy\":{\"n\":10,\"correct\":5,\"acc\":0.5}},"
                + "\"held_out\":{\"loss\":3.4}},"
                + "\"comparison\":{\"mcnemar_exact_p\":0.25},"
                + "\"gate\":{\"passed\":true,\"reason\":\"passed: fine\",\"checks\":[{\"name\":\"accuracy_drop\",\"outcome\":\"passed\"}],"
                + "\"model_status\":\"approved\"}}").getBytes(StandardCharsets.UTF_8));

        DatasetCard dataset = new DatasetCard(DATASET, "colours to fruit", "chat",
                store.uri("datasets/" + DATASET + "/train.jsonl").toString(), null, 5, 2, "sha256:abc", "teacher",
                "generated:" + DATAGEN, null, Map.of("kept", 7), t0, 0);
        ModelCard model = new ModelCard(MODEL, "stories260k", DATASET, "sha256:abc", "lora", Map.of("lora_r", 8),
                store.uri("models/" + MODEL).toString(), null,
                Map.of("eval_job_id", EVAL, "accuracy", 0.6, "base_accuracy", 0.45, "gate", "passed", "gate_reason", "passed: fine"),
                ModelCard.Status.APPROVED, "stories260k", TRAIN, t0.plusSeconds(60), 0);
        JobStatus trainStatus = JobStatus.queued(TRAIN, "train", t0).withState(JobState.SUCCEEDED, t0.plusSeconds(60))
                .withProgress(1, Map.of("loss", 1.1), t0.plusSeconds(60))
                .withResult(Map.of("model_id", MODEL, "adapter_uri", store.uri("models/" + MODEL + "/adapter").toString()), t0.plusSeconds(60));
        JobStatus evalStatus = JobStatus.queued(EVAL, "eval", t0.plusSeconds(61)).withState(JobState.SUCCEEDED, t0.plusSeconds(90));
        try (KafkaProducer<String, String> p = producer()) {
            send(p, Topics.DATASETS, DATASET, dataset);
            send(p, Topics.MODELS, MODEL, model);
            send(p, Topics.JOBS, TRAIN, trainStatus);
            send(p, Topics.JOBS, EVAL, evalStatus);
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 1, 1, "progress", Map.of("step", 1, "loss", 9.0)));
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 1, 2, "eval", Map.of("step", 0, "held_out_loss", 8.5)));
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 1, 3, "progress", Map.of("step", 10, "loss", 5.0)));
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 1, 4, "checkpoint", Map.of("step", 10)));
            // a resumed attempt reports step 10 again: its value wins
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 2, 1, "progress", Map.of("step", 10, "loss", 4.0)));
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 2, 2, "eval", Map.of("step", 10, "held_out_loss", 3.5)));
            send(p, Topics.JOB_EVENTS, TRAIN, event(TRAIN, 2, 3, "progress", Map.of("step", 20, "loss", 1.1)));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            JsonPath curves = authed().get("/ui/api/jobs/" + TRAIN + "/events").jsonPath();
            if (curves.getList("train.step") != null && curves.getList("train.step").size() == 3
                    && authed().get("/ui/api/models/" + MODEL).statusCode() == 200
                    && authed().get("/ui/api/datasets/" + DATASET).statusCode() == 200) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the dashboard never saw the published chain");
    }

    @Test
    void jobsAndTheirCurves() {
        ok(authed().get("/ui/api/jobs")).body("object", equalTo("list")).body("data.id", hasItem(TRAIN))
                .body("data.find { it.id == '" + TRAIN + "' }.state", equalTo("SUCCEEDED"))
                .body("data.find { it.id == '" + TRAIN + "' }.progress", equalTo(1.0f))
                .body("data.find { it.id == '" + TRAIN + "' }.age_s", notNullValue())
                .body("data.find { it.id == '" + TRAIN + "' }.metrics.loss", equalTo(1.1f));
        ok(authed().get("/ui/api/jobs/" + TRAIN)).body("kind", equalTo("train")).body("result.model_id", equalTo(MODEL));
        JsonPath curves = ok(authed().get("/ui/api/jobs/" + TRAIN + "/events")).extract().jsonPath();
        assertEquals(List.of(1, 10, 20), curves.getList("train.step"));
        assertEquals(List.of(9.0f, 4.0f, 1.1f), curves.getList("train.loss"));
        assertEquals(List.of(0, 10), curves.getList("held_out.step"));
        assertEquals(List.of(8.5f, 3.5f), curves.getList("held_out.loss"));
        assertEquals(7, curves.getInt("events"));
    }

    @Test
    void modelLineageFromCardsAndStatuses() {
        ok(authed().get("/ui/api/models/" + MODEL)).body("status", equalTo("approved"))
                .body("task", equalTo("colours to fruit")).body("dataset_id", equalTo(DATASET))
                .body("dataset.train_examples", equalTo(5)).body("datagen_job", equalTo(DATAGEN))
                .body("base_model", equalTo("stories260k"))
                .body("train_job.id", equalTo(TRAIN)).body("train_job.state", equalTo("SUCCEEDED"))
                .body("adapter_uri", containsString("models/" + MODEL + "/adapter"))
                .body("eval_job.id", equalTo(EVAL)).body("eval_job.state", equalTo("SUCCEEDED"))
                .body("gate", equalTo("passed"));
        ok(authed().get("/ui/api/models")).body("data.id", hasItem(MODEL));
    }

    @Test
    void evaluationPerSubjectBaseAgainstTuned() {
        JsonPath ev = ok(authed().get("/ui/api/models/" + MODEL + "/eval")).extract().jsonPath();
        assertEquals(EVAL, ev.getString("eval_job"));
        assertEquals(List.of("anatomy", "astronomy"), ev.getList("subjects.subject"));
        assertEquals(0.4f, ev.getFloat("subjects[1].base"));
        assertEquals(0.7f, ev.getFloat("subjects[1].tuned"));
        assertEquals(10, ev.getInt("subjects[1].n"));
        assertEquals(0.45f, ev.getFloat("overall.base"));
        assertEquals(0.6f, ev.getFloat("overall.tuned"));
        assertEquals(3.4f, ev.getFloat("base_held_out_loss"));
        assertEquals(true, ev.getBoolean("gate.passed"));
    }

    @Test
    void datasetViewerShowsTheFirstExamples() {
        ok(authed().get("/ui/api/datasets")).body("data.id", hasItem(DATASET));
        ok(authed().queryParam("limit", 2).get("/ui/api/datasets/" + DATASET))
                .body("summary.task", equalTo("colours to fruit")).body("stats.kept", equalTo(7))
                .body("examples.size()", equalTo(2)).body("examples[1].messages[1].content", equalTo("a1"));
        ok(authed().get("/ui/api/datasets/" + DATASET)).body("examples.size()", equalTo(5));
    }

    @Test
    void keysAreRequired() {
        for (String path : List.of("/ui/api/jobs", "/ui/api/models/" + MODEL, "/ui/api/jobs/stream", "/ui/api/nothing")) {
            openAiError(given().get(path), 401, "invalid_api_key");
            openAiError(given().header("Authorization", "Bearer sk-wrong").get(path), 401, "invalid_api_key");
        }
    }

    @Test
    void badIdsAndRequestsAreOpenAiErrorsNever500() {
        openAiError(authed().get("/ui/api/jobs/no-such-job"), 404, "not_found");
        openAiError(authed().get("/ui/api/jobs/no-such-job/events"), 404, "not_found");
        openAiError(authed().get("/ui/api/jobs/%C3%A9%00"), 404, "not_found");
        openAiError(authed().get("/ui/api/models/no-such-model"), 404, "model_not_found");
        openAiError(authed().get("/ui/api/models/no-such-model/eval"), 404, "model_not_found");
        openAiError(authed().get("/ui/api/datasets/no-such-dataset"), 404, "not_found");
        openAiError(authed().get("/ui/api/datasets/..%2F..%2Fetc"), 404, "not_found");
        openAiError(authed().get("/ui/api/nothing/here"), 404, "not_found");
        for (String limit : List.of("0", "-1", "x", "201", "1e3", "99999999999")) {
            openAiError(authed().queryParam("limit", limit).get("/ui/api/datasets/" + DATASET), 400, null)
                    .body("error.param", equalTo("limit"));
        }
        openAiError(authed().post("/ui/api/jobs"), 405, "method_not_allowed");
        openAiError(authed().delete("/ui/api/models/" + MODEL), 405, "method_not_allowed");
    }

    @Test
    void anAveragedModelListsItsParentsAndWeights() throws Exception {
        String id = "ft-average-" + RUN;
        try (KafkaProducer<String, String> p = producer()) {
            send(p, Topics.MODELS, id, new ModelCard(id, "stories260k", null, null, "average", Map.of(),
                    store.uri("models/" + id).toString(), null, Map.of(), ModelCard.Status.CANDIDATE, MODEL,
                    List.of(new WeightedModel(MODEL, 0.25), new WeightedModel("ft-dpo-" + RUN, 0.75)),
                    "avg-" + RUN, Instant.now(), 0));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (authed().get("/ui/api/models/" + id).statusCode() != 200 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        ok(authed().get("/ui/api/models/" + id)).body("method", equalTo("average"))
                .body("parents.model", equalTo(List.of(MODEL, "ft-dpo-" + RUN)))
                .body("parents.weight", equalTo(List.of(0.25f, 0.75f)));
    }

    @Test
    void aModelWithoutAReportIs404() throws Exception {
        String id = "ft-noreport-" + RUN;
        try (KafkaProducer<String, String> p = producer()) {
            send(p, Topics.MODELS, id, new ModelCard(id, "stories260k", null, null, "lora", Map.of(),
                    store.uri("models/" + id).toString(), null, Map.of(), ModelCard.Status.CANDIDATE, null,
                    "nope-" + RUN, Instant.now(), 0));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (authed().get("/ui/api/models/" + id).statusCode() != 200 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        ok(authed().get("/ui/api/models/" + id)).body("eval_job.id", equalTo("nope-" + RUN + "-eval"));
        openAiError(authed().get("/ui/api/models/" + id + "/eval"), 404, "not_found")
                .body("error.message", containsString("No evaluation report"));
    }

    @Test
    void liveStreamSendsStatusesThenChangesAndTheFollowedJobsEvents() throws Exception {
        String job = "live-" + RUN;
        Instant now = Instant.now();
        try (KafkaProducer<String, String> p = producer()) {
            send(p, Topics.JOBS, job, JobStatus.queued(job, "train", now));
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(GatewayTestSupport.baseUrl() + "/ui/api/jobs/stream?job=" + job))
                .header("Authorization", "Bearer " + GatewayTestSupport.KEY).build();
        HttpResponse<InputStream> r = GatewayTestSupport.HTTP.send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        BlockingQueue<String> data = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("data: ")) {
                        data.add(line.substring(6));
                    }
                }
            } catch (Exception e) {
                // closed at the end of the test
            }
        });
        reader.setDaemon(true);
        reader.start();
        try {
            await(data, m -> m.contains("\"type\":\"synced\""), "the snapshot's end");
            try (KafkaProducer<String, String> p = producer()) {
                send(p, Topics.JOBS, job, JobStatus.queued(job, "train", now).withState(JobState.RUNNING, Instant.now())
                        .withProgress(0.5, Map.of("loss", 2.5), Instant.now()));
                send(p, Topics.JOB_EVENTS, job, event(job, 1, 1, "progress", Map.of("step", 5, "loss", 2.5)));
                send(p, Topics.JOB_EVENTS, "other-" + RUN, event("other-" + RUN, 1, 1, "progress", Map.of("step", 1, "loss", 1.0)));
            }
            String status = await(data, m -> m.contains("\"type\":\"status\"") && m.contains("\"id\":\"" + job + "\"")
                    && m.contains("RUNNING"), "the new status");
            assertTrue(status.contains("\"progress\":0.5"), status);
            String event = await(data, m -> m.contains("\"type\":\"event\""), "the followed job's event");
            assertTrue(event.contains("\"job_id\":\"" + job + "\"") && event.contains("\"loss\":2.5"), event);
        } finally {
            r.body().close();
        }
    }

    @Test
    void thePageAndTheChartLibraryAreServed() {
        given().redirects().follow(false).get("/ui").then().statusCode(302).header("Location", containsString("/ui/"));
        given().get("/ui/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("id=\"loss-chart\"")).body(containsString("/webjars/uplot/1.6.30/dist/uPlot.iife.min.js"));
        given().get("/ui/dashboard.js").then().statusCode(200).body(containsString("data-painted-pixels"));
        given().get("/ui/dashboard.css").then().statusCode(200);
        given().get("/webjars/uplot/1.6.30/dist/uPlot.iife.min.js").then().statusCode(200)
                .body(containsString("uPlot"));
        given().get("/webjars/uplot/1.6.30/dist/uPlot.min.css").then().statusCode(200);
    }

    // ---- helpers

    static RequestSpecification authed() {
        return given().header("Authorization", "Bearer " + GatewayTestSupport.KEY);
    }

    static ValidatableResponse ok(io.restassured.response.Response r) {
        return r.then().statusCode(200).contentType(containsString("application/json"));
    }

    static ValidatableResponse openAiError(io.restassured.response.Response r, int status, String code) {
        ValidatableResponse v = r.then().statusCode(status).contentType(containsString("application/json"))
                .body("error.message", notNullValue()).body("error.type", notNullValue());
        return code == null ? v : v.body("error.code", equalTo(code));
    }

    static String await(BlockingQueue<String> data, java.util.function.Predicate<String> what, String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String m = data.poll(200, TimeUnit.MILLISECONDS);
            if (m != null && what.test(m)) {
                return m;
            }
        }
        throw new AssertionError("no " + name + " on the stream");
    }

    static JobEvent event(String job, int attempt, long seq, String type, Map<String, Object> data) {
        return new JobEvent(job, attempt, seq, type, Instant.now(), data, 0);
    }

    static KafkaProducer<String, String> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBrokerTestResource.broker().bootstrapServers());
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    static void send(KafkaProducer<String, String> p, String topic, String key, Object value) throws Exception {
        p.send(new ProducerRecord<>(topic, key, ContractsJson.write(value))).get(10, TimeUnit.SECONDS);
    }
}
