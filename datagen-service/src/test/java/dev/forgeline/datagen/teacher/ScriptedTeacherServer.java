package dev.forgeline.datagen.teacher;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A local teacher for tests and benchmarks: OpenAI's {@code POST /v1/chat/completions} over real
 * HTTP, answering what a script returns for each request (a completion, an error status with
 * headers, or either after a delay).
 */
public final class ScriptedTeacherServer implements AutoCloseable {

    /** A request as received: its arrival index and what it asked. */
    public record Request(int index, String model, List<ChatTurn> messages, Double temperature, boolean jsonObject, Long seed,
            int n) {
        public String lastUserMessage() {
            for (int i = messages.size() - 1; i >= 0; i--) {
                if ("user".equals(messages.get(i).role())) return messages.get(i).content();
            }
            return "";
        }
    }

    /** What to answer. */
    public static final class Reply {
        final String content;
        final int status;
        final Map<String, String> headers;
        final Duration delay;
        final Reply then;
        final List<String> choices;

        private Reply(String content, int status, Map<String, String> headers, Duration delay, Reply then) {
            this(content, status, headers, delay, then, null);
        }

        private Reply(String content, int status, Map<String, String> headers, Duration delay, Reply then, List<String> choices) {
            this.choices = choices;
            this.content = content;
            this.status = status;
            this.headers = headers;
            this.delay = delay;
            this.then = then;
        }

        public static Reply ok(String content) {
            return new Reply(content, 200, Map.of(), null, null);
        }

        /** Several choices in one completion, as a request with {@code n} gets them. */
        public static Reply choices(List<String> contents) {
            return new Reply(String.join(" ", contents), 200, Map.of(), null, null, List.copyOf(contents));
        }

        /** An error in OpenAI's shape. */
        public static Reply status(int code, Map<String, String> headers) {
            return new Reply("scripted status " + code, code, headers, null, null);
        }

        /** An error in OpenAI's shape with this message. */
        public static Reply error(int code, String message) {
            return new Reply(message, code, Map.of(), null, null);
        }

        public static Reply delay(Duration d, Reply then) {
            return new Reply(null, 0, Map.of(), d, then);
        }
    }

    static {
        // The JDK server writes headers and body apart: with Nagle's algorithm on, the body waits for
        // the client's delayed ACK, a stall no real teacher adds (figures: docs/performance.md).
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private final HttpServer server;
    private final ExecutorService threads = Executors.newFixedThreadPool(64);
    private final Function<Request, Reply> script;
    private final AtomicInteger calls = new AtomicInteger();
    private final List<Request> requests = new ArrayList<>();

    private ScriptedTeacherServer(Function<Request, Reply> script) throws IOException {
        this.script = script;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
        server.createContext("/v1/chat/completions", this::handle);
        server.setExecutor(threads);
        server.start();
    }

    public static ScriptedTeacherServer start(Function<Request, Reply> script) throws IOException {
        return new ScriptedTeacherServer(script);
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public int calls() {
        return calls.get();
    }

    public List<Request> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            JsonNode body = ContractsJson.mapper().readTree(exchange.getRequestBody());
            List<ChatTurn> messages = new ArrayList<>();
            body.path("messages").forEach(m -> messages.add(new ChatTurn(m.path("role").asText(), m.path("content").asText())));
            Request request = new Request(calls.getAndIncrement(), body.path("model").asText(), messages,
                    body.hasNonNull("temperature") ? body.get("temperature").asDouble() : null,
                    "json_object".equals(body.path("response_format").path("type").asText()),
                    body.hasNonNull("seed") ? body.get("seed").asLong() : null, body.path("n").asInt(1));
            synchronized (requests) {
                requests.add(request);
            }
            Reply reply = script.apply(request);
            while (reply.delay != null) {
                Thread.sleep(reply.delay.toMillis());
                reply = reply.then;
            }
            if (reply.status != 200) {
                reply.headers.forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
                send(exchange, reply.status, Map.of("error", Map.of("message", reply.content,
                        "type", reply.status == 429 ? "rate_limit_exceeded" : "server_error", "code", reply.status)));
                return;
            }
            long prompt = messages.stream().mapToLong(m -> words(m.content())).sum();
            long completion = words(reply.content);
            List<String> contents = reply.choices == null ? List.of(reply.content) : reply.choices;
            List<Map<String, Object>> choices = new ArrayList<>();
            for (int i = 0; i < contents.size(); i++) {
                Map<String, Object> message = new LinkedHashMap<>();
                message.put("role", "assistant");
                message.put("content", contents.get(i));
                choices.add(Map.of("index", i, "message", message, "finish_reason", "stop"));
            }
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("id", "chatcmpl-" + request.index());
            answer.put("object", "chat.completion");
            answer.put("created", System.currentTimeMillis() / 1000);
            answer.put("model", request.model());
            answer.put("choices", choices);
            answer.put("usage", Map.of("prompt_tokens", prompt, "completion_tokens", completion, "total_tokens", prompt + completion));
            send(exchange, 200, answer);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the client gave up (a timeout the script asked for): nothing to answer
        }
    }

    private static void send(HttpExchange exchange, int status, Object json) throws IOException {
        byte[] bytes = ContractsJson.write(json).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static long words(String text) {
        return text == null || text.isBlank() ? 0 : text.strip().split("\\s+").length;
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
