package dev.forgeline.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.gateway.models.ModelCatalog;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Models whose card names a remote backend: a local HTTP server speaks vLLM's wire format (OpenAI
 * JSON and SSE under /v1) and DJL Serving LMI's (/invocations, chat chunks as JSON lines); clients
 * of the gateway see OpenAI's API either way.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class RemoteBackendTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> WORDS = List.of("Hello", " from", " the", " backend");

    @Inject
    ModelCatalog catalog;

    HttpServer server;
    final List<JsonNode> received = new CopyOnWriteArrayList<>();
    OpenAIClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/chat/completions", ex -> serve(ex, false));
        server.createContext("/invocations", ex -> serve(ex, true));
        server.start();
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        catalog.apply(card("big-vllm", new ModelCard.RemoteBackend(ModelCard.RemoteBackend.Type.VLLM, base + "/v1", "meta/llama-70b")));
        catalog.apply(card("big-lmi", new ModelCard.RemoteBackend(ModelCard.RemoteBackend.Type.DJL_LMI, base, "llama-70b-lmi")));
        client = OpenAIOkHttpClient.builder().baseUrl(GatewayTestSupport.v1()).apiKey(GatewayTestSupport.KEY)
                .maxRetries(0).build();
    }

    @AfterEach
    void stop() {
        server.stop(0);
        catalog.withdraw("big-vllm");
        catalog.withdraw("big-lmi");
    }

    private static ModelCard card(String id, ModelCard.RemoteBackend remote) {
        return new ModelCard(id, null, null, null, null, Map.of(), null, remote, Map.of(), ModelCard.Status.APPROVED,
                null, null, Instant.now(), 0);
    }

    private void serve(HttpExchange ex, boolean lmi) throws IOException {
        JsonNode req = JSON.readTree(ex.getRequestBody());
        received.add(req);
        String model = req.get("model").asText();
        boolean stream = req.path("stream").asBoolean(false);
        if (!stream) {
            byte[] body = JSON.writeValueAsBytes(Map.of("id", "chatcmpl-remote", "object", "chat.completion",
                    "created", 1, "model", model, "choices", List.of(Map.of("index", 0, "finish_reason", "stop",
                            "message", Map.of("role", "assistant", "content", String.join("", WORDS)))),
                    "usage", Map.of("prompt_tokens", 3, "completion_tokens", 4, "total_tokens", 7)));
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
            return;
        }
        ex.getResponseHeaders().add("Content-Type", lmi ? "application/jsonlines" : "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        try (OutputStream out = ex.getResponseBody()) {
            for (int i = 0; i <= WORDS.size(); i++) {
                Map<String, Object> delta = i == 0 ? Map.of("role", "assistant", "content", "")
                        : Map.of("content", WORDS.get(i - 1));
                java.util.HashMap<String, Object> choice = new java.util.HashMap<>(Map.of("index", 0, "delta", delta));
                choice.put("finish_reason", i == WORDS.size() ? "stop" : null);
                String chunk = JSON.writeValueAsString(Map.of("id", "chatcmpl-remote", "object", "chat.completion.chunk",
                        "created", 1, "model", model, "choices", List.of(choice)));
                out.write((lmi ? chunk + "\n" : "data: " + chunk + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            if (!lmi) {
                out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private ChatCompletionCreateParams params(String model) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("Hi").maxCompletionTokens(8).build();
    }

    @Test
    void vllmNonStreamingAndStreaming() throws Exception {
        ChatCompletion c = client.chat().completions().create(params("big-vllm"));
        assertEquals("Hello from the backend", c.choices().get(0).message().content().orElseThrow());
        assertEquals("big-vllm", c.model());
        assertEquals("meta/llama-70b", received.get(0).get("model").asText());
        assertStreams("big-vllm");
    }

    @Test
    void djlLmiJsonLinesBecomeSse() throws Exception {
        ChatCompletion c = client.chat().completions().create(params("big-lmi"));
        assertEquals("Hello from the backend", c.choices().get(0).message().content().orElseThrow());
        assertEquals("llama-70b-lmi", received.get(0).get("model").asText());
        assertStreams("big-lmi");
    }

    private void assertStreams(String model) throws Exception {
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params(model))) {
            s.stream().forEach(ch -> {
                assertEquals(model, ch.model());
                ch.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
            });
        }
        assertEquals("Hello from the backend", text.toString());
        GatewayTestSupport.Sse raw = GatewayTestSupport.stream("/chat/completions",
                "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
        assertEquals(200, raw.status());
        List<String> data = raw.data();
        assertEquals("[DONE]", data.get(data.size() - 1));
        assertEquals(WORDS.size() + 2, data.size());
        assertTrue(raw.lines().stream().allMatch(l -> l.isEmpty() || l.startsWith("data: ")));
    }
}
