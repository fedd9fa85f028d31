package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * Seeded fuzz of every route: malformed, oversized, wrongly typed and hostile requests. No answer
 * may be 5xx; every 4xx of the API is OpenAI's error shape; no fuzzed body reaches the log; and a
 * normal chat completion still answers 200 afterwards. Bodies that would generate ask for one token.
 * A quarter of the requests go to the files and fine-tuning routes: multipart uploads broken in
 * every way, hostile JSONL, job requests with wrong fields, query strings that do not decode.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class GatewayFuzzTest {

    static final long SEED = 17;
    static final int REQUESTS = 3000;
    static final int RAW_REQUESTS = 200;
    /** Every fuzzed prompt and form field carries it: the log must never show it. */
    static final String SECRET = "fuzz-secret-prompt-4b1d";
    /** forge.gateway.max-body-bytes' default. */
    static final int BODY_LIMIT = 4 * 1024 * 1024;

    static final ObjectMapper JSON = new ObjectMapper();

    static final String[] ROUTES = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/models/" + MODEL};
    static final String[] OTHER_PATHS = {"/v1/models/no-such-model", "/v1/models/%C3%A9%00", "/v1/embeddings",
        "/v1/", "/v1", "/v2/models", "/", "/nothing", "/v1/chat/completions/x", "/v1//models", "/V1/models",
        "/v1/models/" + "m".repeat(3000), "/v1/chat/completions?stream=true", "/q/nothing", "/q/health/live",
        "/q/health/ready", "/q/health", "/q/metrics",
        // the dashboard's data API (not its stream, which stays open) and page
        "/ui/api/jobs", "/ui/api/jobs/no-such-job", "/ui/api/jobs/%C3%A9%00/events", "/ui/api/models",
        "/ui/api/models/" + MODEL, "/ui/api/models/" + MODEL + "/eval", "/ui/api/models/../../etc/passwd",
        "/ui/api/datasets", "/ui/api/datasets/x?limit=-1", "/ui/api/datasets/x?limit=%00", "/ui/api/", "/ui/api",
        "/ui", "/ui/", "/ui/nothing.js"};
    static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"};
    static final String[] CONTENT_TYPES = {"application/json", "application/json; charset=utf-8", null,
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ",
        "multipart/form-data", "multipart/form-data; boundary=", "multipart/mixed; boundary=XyZ", "application/xml",
        "application/json, text/plain", "APPLICATION/JSON", "application/x-www-form-urlencoded; charset=nonsense",
        "multipart/form-data; boundary=XyZ; charset=nonsense", "*/*", "application/octet-stream", "json", ";",
        "application/json; charset=nonsense", "application/vnd.api+json", "text/event-stream"};
    /** Raw JSON values put in place of any field. */
    static final String[] VALUES = {"\"x\"", "\"\"", "5", "0", "-1", "1.5", "-0.0", "1e309", "-1e309",
        "9223372036854775808", "99999999999999999999999", "NaN", "Infinity", "-Infinity", "null", "true", "false",
        "[]", "{}", "[1,2]", "[\"a\",5]", "{\"a\":{\"b\":[]}}", "\"\\u0000" + SECRET + "\"", "\"\\ud800\"",
        "\"\u00e9\u4e2d\ud83d\ude00\"", "0x10", "01", ".5", "1e", "\"<script>\"", "\"../../etc/passwd\"",
        "[{\"role\":\"user\"}]", "[{\"role\":\"user\",\"content\":null}]", "[5]", "[null]", "[[]]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]",
        "[{\"role\":\"tool\",\"content\":\"" + SECRET + "\"}]", "{\"include_usage\":true}", "[\"\",\"\",\"\",\"\",\"\"]",
        "{\"type\":\"json_object\"}", "{\"50256\":-100}"};
    /** A file uploaded before the fuzz starts, so job requests can get past the file check. */
    static String uploaded = "file-nothing";
    static final String[] FT_ROUTES = {"/v1/files", "/v1/files/file-nothing", "/v1/files/file-nothing/content",
        "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/ftjob-nothing", "/v1/fine_tuning/jobs/ftjob-nothing/events",
        "/v1/fine_tuning/jobs/ftjob-nothing/checkpoints", "/v1/fine_tuning/jobs/ftjob-nothing/cancel",
        "/v1/files/%C3%28", "/v1/files/file-%00", "/v1/fine_tuning/jobs/" + "j".repeat(3000), "/v1/fine_tuning",
        "/v1/fine_tuning/jobs/ftjob-x/events/x", "/v1/files/../models"};
    static final String[] JOB_FIELDS = {"model", "training_file", "validation_file", "suffix", "seed",
        "hyperparameters", "method", "metadata", "forge"};
    /** Values for the job request's nested objects, on top of VALUES. */
    static final String[] JOB_VALUES = {"{\"n_epochs\":\"auto\",\"batch_size\":0}", "{\"n_epochs\":1e309}",
        "{\"learning_rate_multiplier\":\"NaN\"}", "{\"type\":\"supervised\",\"supervised\":5}",
        "{\"type\":\"dpo\"}", "{\"method\":\"freeze\",\"lora\":{}}", "{\"lora\":{\"r\":-1,\"target_modules\":[null]}}",
        "{\"max_steps\":0,\"eval\":{\"gate\":{\"min_accuracy\":7}}}", "{\"eval\":{\"subjects\":5}}",
        "{\"k\":\"" + "v".repeat(600) + "\"}", "\"ft:x:y\"", "\"a/b\""};
    /** Queries the JDK client sends; those that do not decode (%zz) are among the raw requests. */
    static final String[] QUERIES = {"?limit=0", "?limit=-1", "?limit=x", "?limit=99999999999", "?limit=1.5",
        "?after=nothing", "?after=%C3%28", "?order=sideways", "?purpose=assistants", "?metadata%5Bk%5D=v", "?%00",
        "?limit=%E0%A4", "?after=" + SECRET, "?limit=1&limit=2", "?=", "?&&&"};
    static final String[] FIELDS = {"model", "messages", "prompt", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "n", "stream", "stop", "seed", "logprobs", "top_logprobs", "presence_penalty",
        "frequency_penalty", "user", "stream_options", "logit_bias", "response_format", "tools", "echo", "suffix"};

    /** One request; {@code body} null for none. */
    record Probe(String method, String path, String contentType, String auth, byte[] body) {
        @Override
        public String toString() {
            String b = body == null ? "-" : body.length > 120 ? new String(body, 0, 120, StandardCharsets.ISO_8859_1)
                    + "...(" + body.length + " bytes)" : new String(body, StandardCharsets.ISO_8859_1);
            return method + " " + (path.length() > 80 ? path.substring(0, 80) + "..." : path) + " [" + contentType
                    + "] auth=" + (auth == null ? "-" : auth.length() > 30 ? auth.substring(0, 30) + "..." : auth)
                    + " body=" + b.replaceAll("\\p{Cntrl}", "?");
        }
    }

    @Test
    void noRequestGetsA5xxOrLeaksItsBody() throws Exception {
        awaitPlatformView();
        uploaded = uploadedFile();
        LogCapture log = LogCapture.start();
        long start = System.nanoTime();
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        Map<Integer, Integer> statuses = new TreeMap<>();
        int generated = 0;
        try {
            for (int i = 0; i < REQUESTS; i++) {
                Probe p = probe(random);
                HttpResponse<byte[]> r;
                try {
                    r = GatewayTestSupport.HTTP.send(request(p), HttpResponse.BodyHandlers.ofByteArray());
                } catch (IOException e) {
                    failures.add("#" + i + " " + p + ": no answer, " + e);
                    continue;
                }
                statuses.merge(r.statusCode(), 1, Integer::sum);
                if (r.statusCode() == 200 && p.method().equals("POST")) {
                    generated++;
                }
                String problem = problem(p.method(), p.path(), r.statusCode(), r.body());
                if (problem != null) {
                    failures.add("#" + i + " " + p + ": " + problem);
                }
            }
            for (int i = 0; i < RAW_REQUESTS; i++) {
                raw(random, i, statuses, failures);
            }
        } finally {
            log.stop();
        }
        long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
        System.out.printf("fuzz: %d requests (seed %d) in %d s, statuses %s, %d generated, %d failures%n",
                REQUESTS + RAW_REQUESTS, SEED, seconds, statuses, generated, failures.size());
        failures.addAll(0, log.leaks());
        assertTrue(failures.isEmpty(), failures.size() + " failures, the first:\n"
                + String.join("\n", failures.subList(0, Math.min(25, failures.size()))));

        // still serving: a normal completion, and live
        HttpResponse<String> ok = GatewayTestSupport.HTTP.send(GatewayTestSupport.post("/chat/completions",
                "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}"),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode(), ok.body());
        assertEquals("chat.completion", JSON.readTree(ok.body()).path("object").asText(), ok.body());
        HttpResponse<String> live = GatewayTestSupport.HTTP.send(HttpRequest.newBuilder(
                URI.create(GatewayTestSupport.baseUrl() + "/q/health/live")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, live.statusCode(), live.body());
    }

    /** The dashboard's API answers 503 until the gateway has read the platform's topics: not a fuzz finding. */
    static void awaitPlatformView() throws Exception {
        HttpRequest jobs = HttpRequest.newBuilder(URI.create(GatewayTestSupport.baseUrl() + "/ui/api/jobs"))
                .header("Authorization", "Bearer " + GatewayTestSupport.KEY).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (GatewayTestSupport.HTTP.send(jobs, HttpResponse.BodyHandlers.discarding()).statusCode() != 200) {
            assertTrue(System.nanoTime() < deadline, "the platform view never became ready");
            Thread.sleep(200);
        }
    }

    /**
     * What is wrong with an answer, or null. Exempt from the error shape: HEAD (no body by HTTP's
     * rule) and Quarkus's own /q/health and /q/metrics handlers, which are not the OpenAI API
     * (health answers its own JSON, metrics Prometheus text).
     */
    static String problem(String method, String path, int status, byte[] body) {
        if (status >= 500) {
            return "status " + status + ": " + text(body);
        }
        if (status < 400 || method.equals("HEAD") || path.startsWith("/q/health") || path.startsWith("/q/metrics")) {
            return null;
        }
        String text = new String(body, StandardCharsets.UTF_8);
        try {
            JsonNode error = JSON.readTree(body).path("error");
            if (!error.path("message").isTextual() || !error.path("type").isTextual()) {
                return "status " + status + " without OpenAI's error shape: " + text(body);
            }
        } catch (IOException e) {
            return "status " + status + " with a body that is not JSON: " + text(body);
        }
        return text.contains("Exception") ? "status " + status + " names an exception: " + text(body) : null;
    }

    static String text(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8);
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

    static HttpRequest request(Probe p) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(GatewayTestSupport.baseUrl() + p.path()))
                .timeout(Duration.ofSeconds(30))
                .method(p.method(), p.body() == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(p.body()));
        if (p.contentType() != null) {
            b.header("Content-Type", p.contentType());
        }
        if (p.auth() != null) {
            b.header("Authorization", p.auth());
        }
        return b.build();
    }

    // ---------------------------------------------------------------- the requests

    static Probe probe(Random r) {
        String key = "Bearer " + GatewayTestSupport.KEY;
        if (r.nextInt(4) == 0) {
            return fineTuningProbe(r, key);
        }
        int kind = r.nextInt(100);
        if (kind < 35) { // a valid body with a field made wrong
            String path = r.nextBoolean() ? "/v1/chat/completions" : "/v1/completions";
            return new Probe("POST", path, pick(r, "application/json", "application/json; charset=utf-8", null), key,
                    mutated(r, path).getBytes(StandardCharsets.UTF_8));
        }
        if (kind < 50) { // not JSON, or not an object
            return new Probe("POST", pick(r, ROUTES[0], ROUTES[1]), pick(r, "application/json", null), key, garbage(r));
        }
        if (kind < 65) { // a body of another type, on any route
            String type = pick(r, CONTENT_TYPES);
            return new Probe(pick(r, "POST", "POST", "GET", "PUT"), pick(r, ROUTES), type, key, bodyFor(r, type));
        }
        if (kind < 75) { // a method the route does not answer
            String type = pick(r, CONTENT_TYPES);
            return new Probe(pick(r, METHODS), pick(r, ROUTES), type, key, r.nextBoolean() ? null : bodyFor(r, type));
        }
        if (kind < 85) { // paths that are not routes, or are someone else's
            String type = pick(r, CONTENT_TYPES);
            return new Probe(pick(r, METHODS), pick(r, OTHER_PATHS), type, r.nextBoolean() ? key : null,
                    r.nextBoolean() ? null : bodyFor(r, type));
        }
        if (kind < 93) { // no key, a wrong one, the wrong scheme
            String auth = pick(r, null, "", "Bearer", "Bearer ", "Bearer sk-wrong", "Basic " + GatewayTestSupport.KEY,
                    "bearer " + GatewayTestSupport.KEY + "x", "Bearer " + "k".repeat(4000), key + ", " + key);
            String path = pick(r, ROUTES);
            return new Probe(path.startsWith("/v1/models") ? "GET" : "POST", path, "application/json", auth,
                    mutated(r, path).getBytes(StandardCharsets.UTF_8));
        }
        if (kind < 99) { // GET routes with a body that would not decode
            String type = pick(r, "application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ",
                    "multipart/form-data", "text/plain", "application/json");
            return new Probe("GET", pick(r, ROUTES[2], ROUTES[3]), type, key, r.nextBoolean() ? null : bodyFor(r, type));
        }
        return new Probe("POST", pick(r, ROUTES[0], ROUTES[1]), pick(r, "application/json", null,
                "application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ"), key, huge(r));
    }

    /** A request to the files or fine-tuning routes. */
    static Probe fineTuningProbe(Random r, String key) {
        int kind = r.nextInt(100);
        if (kind < 30) { // an upload, broken in its framing or in its file
            String type = pick(r, "multipart/form-data; boundary=XyZ", "multipart/form-data; boundary=XyZ",
                    "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"XyZ",
                    "multipart/mixed; boundary=XyZ", "application/json", null, "text/plain");
            return new Probe("POST", "/v1/files", type, key, r.nextBoolean() ? upload(r) : multipart(r).getBytes(StandardCharsets.UTF_8));
        }
        if (kind < 55) { // a job request with fields made wrong
            return new Probe("POST", "/v1/fine_tuning/jobs", pick(r, "application/json", null), key,
                    mutatedJob(r).getBytes(StandardCharsets.UTF_8));
        }
        if (kind < 65) { // not JSON, or another content type
            String type = pick(r, CONTENT_TYPES);
            return new Probe("POST", pick(r, "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/ftjob-nothing/cancel"), type,
                    key, r.nextBoolean() ? garbage(r) : bodyFor(r, type));
        }
        if (kind < 80) { // list and read routes with query strings
            String path = pick(r, "/v1/files", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/ftjob-nothing/events",
                    "/v1/fine_tuning/jobs/ftjob-nothing/checkpoints", "/v1/files/file-nothing/content");
            return new Probe("GET", path + pick(r, QUERIES), null, key, null);
        }
        if (kind < 95) { // any method, any of these paths
            String type = pick(r, CONTENT_TYPES);
            return new Probe(pick(r, METHODS), pick(r, FT_ROUTES), type, r.nextInt(5) == 0 ? null : key,
                    r.nextBoolean() ? null : bodyFor(r, type));
        }
        return new Probe("POST", "/v1/files", "multipart/form-data; boundary=XyZ", key, hugeUpload(r));
    }

    /** A well-framed upload whose purpose or file is hostile. */
    static byte[] upload(Random r) {
        String purpose = pick(r, "fine-tune", "fine-tune", "assistants", "", SECRET, "fine-tune\u0000");
        String file = switch (r.nextInt(6)) {
            case 0 -> "{\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET + "\"}]}\n";
            case 1 -> new String(garbage(r), StandardCharsets.ISO_8859_1);
            case 2 -> ("{\"messages\":[{\"role\":\"assistant\",\"content\":\"" + SECRET + "\"}]}\n").repeat(3)
                    + "{\"messages\":" + pick(r, VALUES) + "}\n";
            case 3 -> "\n\n\r\n";
            case 4 -> "{\"messages\":[{\"role\":\"user\",\"content\":" + pick(r, VALUES)
                    + "},{\"role\":\"assistant\",\"content\":\"" + SECRET + "\"}]}";
            default -> "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\""
                    + SECRET + "\"}]}\n";
        };
        String name = pick(r, "f.jsonl", "../../etc/passwd", "", "\u00e9\u4e2d.jsonl", "a\"b.jsonl", SECRET);
        StringBuilder b = new StringBuilder();
        if (r.nextInt(6) != 0) {
            b.append("--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n").append(purpose).append("\r\n");
        }
        if (r.nextInt(6) != 0) {
            b.append("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"").append(name)
                    .append("\"\r\nContent-Type: application/jsonl\r\n\r\n").append(file).append("\r\n");
        }
        if (r.nextInt(8) == 0) {
            b.append("--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nagain\r\n");
        }
        return b.append(r.nextInt(8) == 0 ? "--XyZ" : "--XyZ--\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Beyond the test profile's 1 MiB file limit and the multipart framing around it. */
    static byte[] hugeUpload(Random r) {
        byte[] b = new byte[1024 * 1024 + 64 * 1024 + 1 + r.nextInt(100_000)];
        Arrays.fill(b, (byte) 'x');
        byte[] head = ("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + SECRET + "\"\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8);
        System.arraycopy(head, 0, b, 0, head.length);
        return b;
    }

    /** A valid job request (on the uploaded file), then two or three fields replaced or removed. */
    static String mutatedJob(Random r) {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("model", "\"" + MODEL + "\"");
        fields.put("training_file", "\"" + uploaded + "\"");
        fields.put("suffix", "\"" + SECRET + "\"");
        fields.put("forge", "{\"max_steps\":1}");
        for (int m = r.nextInt(3) == 0 ? 3 : 2; m > 0; m--) {
            String field = pick(r, JOB_FIELDS);
            if (r.nextInt(8) == 0) {
                fields.remove(field);
            } else {
                fields.put(field, r.nextBoolean() ? pick(r, JOB_VALUES) : pick(r, VALUES));
            }
        }
        StringBuilder json = new StringBuilder("{");
        fields.forEach((k, v) -> json.append(json.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
        return json.append('}').toString();
    }

    /** A valid request of the route, then two or three fields replaced by a hostile value or removed. */
    static String mutated(Random r, String path) {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("model", "\"" + MODEL + "\"");
        if (path.equals("/v1/chat/completions")) {
            fields.put("messages", "[{\"role\":\"user\",\"content\":\"" + SECRET + " Once upon a time\"}]");
        } else {
            fields.put("prompt", "\"" + SECRET + " Once upon a time\"");
        }
        fields.put("max_tokens", "1");
        for (int m = r.nextInt(3) == 0 ? 3 : 2; m > 0; m--) { // two or more: one alone is often still valid
            String field = pick(r, FIELDS);
            if (r.nextInt(8) == 0) {
                fields.remove(field);
            } else if (field.equals("max_tokens") || field.equals("max_completion_tokens") || field.equals("n")) {
                // never a large valid count: that would generate for long
                fields.put(field, pick(r, "\"1\"", "0", "-1", "1.5", "1e309", "9223372036854775808", "true", "[]",
                        "NaN", "2", "{}"));
            } else {
                fields.put(field, pick(r, VALUES));
            }
        }
        StringBuilder json = new StringBuilder("{");
        fields.forEach((k, v) -> json.append(json.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
        return json.append('}').toString();
    }

    /** Bodies that are not a JSON object. */
    static byte[] garbage(Random r) {
        String valid = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET
                + "\"}],\"prompt\":\"" + SECRET + "\",\"max_tokens\":1}";
        switch (r.nextInt(13)) {
            case 0: {
                byte[] b = new byte[r.nextInt(300)];
                r.nextBytes(b);
                return b;
            }
            case 1:
                return valid.substring(0, r.nextInt(valid.length())).getBytes(StandardCharsets.UTF_8);
            case 2:
                return (valid + pick(r, "}", " x", ",", "{}", "\u0000")).getBytes(StandardCharsets.UTF_8);
            case 3: {
                int depth = pick(r, 10, 999, 1001, 5000, 100_000);
                return ("[".repeat(depth) + "]".repeat(depth)).getBytes(StandardCharsets.UTF_8);
            }
            case 4: {
                int depth = pick(r, 500, 2000, 50_000);
                return ("{\"model\":\"" + MODEL + "\",\"messages\":" + "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)
                        + "}").getBytes(StandardCharsets.UTF_8);
            }
            case 5: { // invalid UTF-8 inside a string, and outside
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                b.writeBytes(("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET)
                        .getBytes(StandardCharsets.UTF_8));
                b.writeBytes(new byte[] {(byte) 0xC3, 0x28, (byte) 0xFF, (byte) 0xED, (byte) 0xA0, (byte) 0x80});
                b.writeBytes(r.nextBoolean() ? "\"}],\"max_tokens\":1}".getBytes(StandardCharsets.UTF_8) : new byte[] {(byte) 0xFE});
                return b.toByteArray();
            }
            case 6:
                return pick(r, "\u0000", "{\u0000}", "\u0000\u0000\u0000\u0000", "{\"model\u0000\":1}")
                        .getBytes(StandardCharsets.UTF_8);
            case 7:
                return pick(r, "null", "5", "\"" + SECRET + "\"", "true", "[]", "[{}]", " ", "\n\n", "{}")
                        .getBytes(StandardCharsets.UTF_8);
            case 8:
                return ("\uFEFF" + valid).getBytes(StandardCharsets.UTF_8);
            case 9:
                return valid.getBytes(pick(r, StandardCharsets.UTF_16, StandardCharsets.UTF_16LE, StandardCharsets.ISO_8859_1));
            case 10: {
                StringBuilder keys = new StringBuilder("{\"model\":\"" + MODEL + "\",\"model\":5");
                for (int i = 0, n = pick(r, 10, 10_000); i < n; i++) {
                    keys.append(",\"k").append(i).append("\":").append(i);
                }
                return keys.append('}').toString().getBytes(StandardCharsets.UTF_8);
            }
            case 11:
                return ("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + (SECRET + " ").repeat(pick(r, 5_000, 50_000))
                        + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET.repeat(5_000) + "\"}]}")
                        .getBytes(StandardCharsets.UTF_8);
            default:
                return ("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET
                        + "\\uZZZZ \\x41 \\\"}]}").getBytes(StandardCharsets.UTF_8);
        }
    }

    /** A body in (or pretending to be in) the given content type. */
    static byte[] bodyFor(Random r, String contentType) {
        String type = contentType == null ? "" : contentType.toLowerCase();
        if (type.startsWith("application/x-www-form-urlencoded")) {
            return form(r).getBytes(StandardCharsets.UTF_8);
        }
        if (type.startsWith("multipart/")) {
            return multipart(r).getBytes(StandardCharsets.UTF_8);
        }
        return r.nextBoolean() ? mutated(r, pick(r, ROUTES[0], ROUTES[1])).getBytes(StandardCharsets.UTF_8) : garbage(r);
    }

    static String form(Random r) {
        return switch (r.nextInt(7)) {
            case 0 -> "prompt=" + SECRET + "%zz&b=%";
            case 1 -> SECRET + "x".repeat(pick(r, 1000, 3000, 10_000));
            case 2 -> {
                StringBuilder s = new StringBuilder(SECRET + "=1");
                for (int i = 0; i < 1000; i++) {
                    s.append("&f").append(i).append('=').append(i);
                }
                yield s.toString();
            }
            case 3 -> "model=" + MODEL + "&messages=" + SECRET + "&max_tokens=1";
            case 4 -> "prompt=" + SECRET + "y".repeat(pick(r, 3000, 9000));
            case 5 -> "%" + SECRET + "=%E0%A4%A";
            default -> "a=" + SECRET + "&&&==&%00=%FF";
        };
    }

    static String multipart(Random r) {
        String part = "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n" + SECRET + "\r\n";
        return switch (r.nextInt(10)) {
            case 0 -> "--XyZ\r\n" + part + "--XyZ--\r\n";
            case 1 -> "--XyZ\r\nContent-Disposition: garbage\r\n\r\n" + SECRET + "\r\n--XyZ--\r\n";
            case 2 -> "--XyZ\r\n\r\n\r\n--XyZ--\r\n";
            case 3 -> "--XyZ\r\n" + part; // never closed
            case 4 -> "--Other\r\n" + part + "--Other--\r\n";
            case 5 -> "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../x\"\r\n\r\n" + SECRET
                    + "\r\n--XyZ--\r\n";
            case 6 -> "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\nContent-Type: text/plain; charset=nonsense"
                    + "\r\n\r\n" + SECRET + "\r\n--XyZ--\r\n";
            case 7 -> "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\nContent-Transfer-Encoding: weird\r\n\r\n"
                    + SECRET + "\r\n--XyZ--\r\n";
            case 8 -> "--XyZ\r\n" + "Content-Disposition: form-data; name=\"p\"\r\n\r\n" + SECRET + "z".repeat(10_000)
                    + "\r\n--XyZ--\r\n";
            default -> "----\r\n" + SECRET;
        };
    }

    /** Beyond the body limit. */
    static byte[] huge(Random r) {
        byte[] b = new byte[BODY_LIMIT + 1 + r.nextInt(100_000)];
        Arrays.fill(b, (byte) 'x');
        byte[] head = ("{\"model\":\"" + MODEL + "\",\"user\":\"" + SECRET).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(head, 0, b, 0, head.length);
        return b;
    }

    // ---------------------------------------------------------------- raw HTTP

    /**
     * Requests the JDK client will not send: broken framing, bad escapes, bytes that are not
     * ASCII in headers. Those that the HTTP server rejects before any router sees them (a bad
     * request line or header, a URI or header over its limits, a malformed %-escape in the path,
     * broken chunking) get its bare 400/414/431 or a closed connection: no route runs, so there is
     * no OpenAI body to ask for; only the status is checked.
     */
    static void raw(Random r, int i, Map<Integer, Integer> statuses, List<String> failures) throws IOException {
        String auth = "Authorization: Bearer " + GatewayTestSupport.KEY + "\r\n";
        String json = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + SECRET + "\"}]}";
        String[][] cases = {
            // {request, "routed" if a route answers it (so the error shape applies), "half" to close our side}
            {"GET /v1/models/%zz HTTP/1.1\r\n" + auth + "\r\n", ""},
            {"GET /v1/models/% HTTP/1.1\r\n" + auth + "\r\n", ""},
            {"GET /v1/%E0%A4%A HTTP/1.1\r\n" + auth + "\r\n", ""},
            {"POST /%zz HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", ""},
            {"GET /v1/models/%FF%FE HTTP/1.1\r\n" + auth + "\r\n", "routed"},
            {"BREW /v1/models HTTP/1.1\r\n" + auth + "\r\n", "routed"},
            {"GET /v1/models HTTP/9.9\r\n" + auth + "\r\n", "routed"},
            {"GET /v1/models HTTP/1.0\r\n" + auth + "\r\n", "routed"},
            {"GET /v1/models HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 12\r\n" + auth
                    + "\r\n--x\r\nabcdefg", "routed"},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                    + "Content-Length: " + json.length() + "\r\n" + auth + "\r\n" + json, "routed"},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    + "Transfer-Encoding: chunked\r\n" + auth + "\r\n5\r\na=%zz\r\n0\r\n\r\n", "routed"},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n" + auth
                    + "\r\n{\"mo", "", "half"},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                    + auth + "\r\nZZ\r\nxx\r\n0\r\n\r\n", ""},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n"
                    + "Transfer-Encoding: chunked\r\n" + auth + "\r\n2\r\n{}\r\n0\r\n\r\n", ""},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n" + auth + "\r\n", ""},
            {"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n" + auth + "\r\n", ""},
            {"GET /v1/models HTTP/1.1\r\nAuthorization: Bearer \u00ff\u00fe" + SECRET + "\r\n\r\n", ""},
            {"GET /v1/models HTTP/1.1\r\nNoColonHere\r\n" + auth + "\r\n", ""},
            {"GET /v1/" + "a".repeat(10_000) + " HTTP/1.1\r\n\r\n", ""},
            {"GET /v1/models HTTP/1.1\r\nX-Big: " + "a".repeat(10_000) + "\r\n" + auth + "\r\n", ""},
            {"GARBAGE\r\n\r\n", ""},
            {"POST /v1/files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100\r\n" + auth
                    + "\r\n--x\r\nabc", "", "half"},
            {"POST /v1/files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n"
                    + auth + "\r\nZZ\r\nxx\r\n0\r\n\r\n", ""},
            {"POST /v1/files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 5\r\n" + auth
                    + "\r\n--x--", "routed"},
            {"POST /v1/files HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 99999999999\r\n"
                    + auth + "\r\n--x\r\n", "", "half"},
            // a malformed %-escape in the query: the HTTP server's bare 400, as one in the path
            {"GET /v1/fine_tuning/jobs?limit=%zz HTTP/1.1\r\n" + auth + "\r\n", ""},
            {"GET /v1/files?after=%E0%A4%A&order=% HTTP/1.1\r\n" + auth + "\r\n", ""},
            {"\u0016\u0003\u0001\u0000\u002a\u0001\u0000\u0000\u0026\u0003\u0003", "", "half"},
        };
        String[] c = cases[r.nextInt(cases.length)];
        String head = c[0].replaceFirst("\r\n", "\r\nHost: localhost\r\nConnection: close\r\n");
        int port = Integer.parseInt(GatewayTestSupport.baseUrl().replaceAll(".*:", ""));
        byte[] answer;
        try (Socket s = new Socket("localhost", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            if (c.length > 2) {
                s.shutdownOutput();
            }
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            try {
                in.transferTo(got);
            } catch (SocketTimeoutException e) {
                failures.add("raw #" + i + " " + c[0].lines().findFirst().orElse("") + ": no answer within 10 s");
                return;
            } catch (IOException e) {
                // reset by the server after rejecting the request: fine, what came before counts
            }
            answer = got.toByteArray();
        }
        String text = new String(answer, StandardCharsets.ISO_8859_1);
        if (!text.startsWith("HTTP/")) {
            return; // closed without an answer: only the codec does that, on broken framing
        }
        int status = Integer.parseInt(text.substring(9, 12));
        statuses.merge(status, 1, Integer::sum);
        int split = text.indexOf("\r\n\r\n");
        byte[] body = split < 0 ? new byte[0] : Arrays.copyOfRange(answer, split + 4, answer.length);
        String problem = c[1].equals("routed") ? problem("RAW", "/v1", status, body)
                : status >= 500 ? "status " + status : null;
        if (problem != null) {
            failures.add("raw #" + i + " " + c[0].lines().findFirst().orElse("").replaceAll("\\p{Cntrl}", "?") + ": " + problem);
        }
    }

    // ---------------------------------------------------------------- helpers

    static String uploadedFile() throws Exception {
        String line = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"ho\"}]}";
        byte[] body = ("--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--XyZ\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"f.jsonl\"\r\n\r\n" + line + "\n" + line
                + "\r\n--XyZ--\r\n").getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> r = GatewayTestSupport.HTTP.send(request(new Probe("POST", "/v1/files",
                "multipart/form-data; boundary=XyZ", "Bearer " + GatewayTestSupport.KEY, body)),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("id").asText();
    }

    @SafeVarargs
    static <T> T pick(Random r, T... options) {
        return options[r.nextInt(options.length)];
    }

    /** Every log record while the fuzz runs, to find a fuzzed body in any of them. */
    static final class LogCapture extends Handler {
        final ConcurrentLinkedQueue<String> records = new ConcurrentLinkedQueue<>();

        static LogCapture start() {
            LogCapture c = new LogCapture();
            c.setLevel(Level.ALL);
            Logger.getLogger("").addHandler(c);
            return c;
        }

        void stop() {
            Logger.getLogger("").removeHandler(this);
        }

        @Override
        public void publish(LogRecord r) {
            StringWriter w = new StringWriter();
            w.append(r.getLevel().toString()).append(' ').append(r.getLoggerName()).append(": ")
                    .append(String.valueOf(r.getMessage())).append(' ')
                    .append(r.getParameters() == null ? "" : Arrays.deepToString(r.getParameters()));
            if (r.getThrown() != null) {
                r.getThrown().printStackTrace(new PrintWriter(w));
            }
            records.add(w.toString());
        }

        /** Records that show a fuzzed body. */
        List<String> leaks() {
            return records.stream().filter(s -> s.contains(SECRET))
                    .map(s -> "logged a request body: " + (s.length() > 400 ? s.substring(0, 400) + "..." : s)).toList();
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
