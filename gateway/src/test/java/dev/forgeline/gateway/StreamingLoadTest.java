package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.generate.Generation;
import dev.forgeline.gateway.engine.BatchScheduler;
import dev.forgeline.gateway.models.ModelPool;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Many streams at once through the continuous-batching scheduler, each with its own text, and
 * clients that leave midway.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class StreamingLoadTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    ModelPool pool;

    @Inject
    io.micrometer.core.instrument.MeterRegistry meters;

    private long cancelled() {
        return meters.find("forge.gateway.request.duration").tag("model", MODEL).tag("outcome", "cancelled")
                .timers().stream().mapToLong(io.micrometer.core.instrument.Timer::count).sum();
    }

    static String body(int maxTokens, int i) {
        return "{\"model\":\"" + MODEL + "\",\"stream\":true,\"max_tokens\":" + maxTokens + ",\"temperature\":0.8,"
                + "\"seed\":" + i + ",\"stream_options\":{\"include_usage\":true},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time " + i + "\"}]}";
    }

    /** Checks one stream's shape: role first, content deltas, one finish chunk, usage, then [DONE] last. */
    static void assertWellFormed(GatewayTestSupport.Sse sse) throws Exception {
        assertEquals(200, sse.status());
        List<String> data = sse.data();
        assertEquals("[DONE]", data.get(data.size() - 1));
        JsonNode first = JSON.readTree(data.get(0));
        assertEquals("chat.completion.chunk", first.get("object").asText());
        assertEquals("assistant", first.at("/choices/0/delta/role").asText());
        int finishes = 0;
        StringBuilder text = new StringBuilder();
        String id = first.get("id").asText();
        for (String d : data.subList(0, data.size() - 2)) {
            JsonNode chunk = JSON.readTree(d);
            assertEquals(id, chunk.get("id").asText());
            JsonNode choice = chunk.at("/choices/0");
            if (!choice.path("finish_reason").isNull()) {
                finishes++;
            }
            text.append(choice.at("/delta/content").asText(""));
        }
        assertEquals(1, finishes, () -> String.join("\n", data));
        JsonNode usage = JSON.readTree(data.get(data.size() - 2)).get("usage");
        assertTrue(usage.get("completion_tokens").asInt() > 0);
        for (int i = 0; i < sse.lines().size(); i++) {
            String line = sse.lines().get(i);
            assertTrue(line.isEmpty() ? i % 2 == 1 : line.startsWith("data: ") && i % 2 == 0, "SSE framing: " + line);
        }
    }

    /**
     * Story openings whose greedy continuations differ within their first 12 tokens (checked by
     * the test), so a stream that got another's tokens, or part of them, would not pass.
     */
    static final String[] PROMPTS = {
            "\"Look at my ball!\" said Sam.", "Tom looked at the bird and", "\"Look at my cat!\" said Jack.",
            "Lucy wanted a duck because", "Anna wanted a bird because", "Sue looked at the cake and",
            "\"Look at my boat!\" said Jack.", "Tim gave the box to", "One day, Tim found a box", "Why did the tree",
            "Anna looked at the tree and", "Tim wanted a dog because", "Lucy wanted a fish because",
            "Sam looked at the tree and", "Tim wanted a box because", "Max and the boat", "The tree said",
            "Why did the cat", "Jack wanted a car because", "The little boat was", "Lucy saw the cake in the",
            "The little bunny was", "The little tree was", "The little bear was", "Tim and the fish",
            "One day, Tim found a duck", "Why did the box", "One day, Tom found a bear", "Why did the car",
            "Ben saw the boat in the", "\"Look at my tree!\" said Amy.", "Ben wanted a car because",
            "One day, Lucy found a kite", "The little hat was", "One day, Jack found a boat", "Why did the cake",
            "Why did the kite", "Sue wanted a dog because", "Jack and the car", "Lily looked at the duck and",
            "Tim saw the dog in the", "Tom gave the tree to", "One day, Ben found a bunny", "Jack gave the frog to",
            "Amy saw the ball in the", "Why did the ball", "Max and the frog", "Amy gave the bird to",
            "Lily saw the duck in the", "\"Look at my car!\" said Ben.", "One day, Mia found a boat", "The fish said",
            "Why did the duck", "\"Look at my tree!\" said Anna.", "The box said", "Jack and the boat",
            "\"Look at my fish!\" said Lucy.", "The little dog was", "Amy and the bear", "Ben looked at the frog and",
            "Anna saw the bear in the", "Mia gave the frog to", "Tom gave the bear to", "One day, Sue found a fish"
    };

    /** 12 to 48 tokens: rows retire while others go on (the last row moves into theirs), and waiting streams join. */
    static int budget(int i) {
        return 12 + (7 * i) % 37;
    }

    static String greedyBody(int i) throws Exception {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("model", MODEL);
        body.put("stream", true);
        body.put("max_tokens", budget(i));
        body.put("temperature", 0);
        body.put("stream_options", Map.of("include_usage", true));
        body.put("messages", List.of(Map.of("role", "user", "content", PROMPTS[i])));
        return JSON.writeValueAsString(body);
    }

    /** The concatenated content deltas of a well-formed stream, its finish reason and its completion tokens. */
    record Streamed(String text, String finishReason, int completionTokens) {
        static Streamed of(GatewayTestSupport.Sse sse) throws Exception {
            List<String> data = sse.data();
            StringBuilder text = new StringBuilder();
            String finish = null;
            for (String d : data.subList(0, data.size() - 2)) {
                JsonNode choice = JSON.readTree(d).at("/choices/0");
                text.append(choice.at("/delta/content").asText(""));
                if (!choice.path("finish_reason").isNull()) {
                    finish = choice.get("finish_reason").asText();
                }
            }
            int tokens = JSON.readTree(data.get(data.size() - 2)).at("/usage/completion_tokens").asInt();
            return new Streamed(text.toString(), finish, tokens);
        }
    }

    /**
     * 64 greedy streams at once, four times the default batch of 16: each one's text is what the engine
     * generates for its own prompt alone.
     */
    @Test
    void sixtyFourConcurrentStreamsEachGetTheirOwnGreedyText() throws Exception {
        assertEquals(64, PROMPTS.length);
        EngineReference engine = EngineReference.get();
        Generation[] alone = new Generation[PROMPTS.length];
        for (int i = 0; i < PROMPTS.length; i++) {
            alone[i] = engine.greedy(engine.chatPrompt(PROMPTS[i]), budget(i));
        }
        for (int i = 0; i < PROMPTS.length; i++) {
            for (int j = i + 1; j < PROMPTS.length; j++) {
                int common = Math.min(alone[i].tokens().length, alone[j].tokens().length);
                assertFalse(Arrays.equals(Arrays.copyOf(alone[i].tokens(), common), Arrays.copyOf(alone[j].tokens(), common)),
                        "'" + PROMPTS[i] + "' and '" + PROMPTS[j] + "' continue alike: streams mixed up would go unseen");
            }
        }
        ExecutorService clients = Executors.newFixedThreadPool(PROMPTS.length);
        try {
            List<Future<GatewayTestSupport.Sse>> streams = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) {
                String body = greedyBody(i);
                streams.add(clients.submit(() -> GatewayTestSupport.stream("/chat/completions", body)));
            }
            for (int i = 0; i < PROMPTS.length; i++) {
                GatewayTestSupport.Sse sse = streams.get(i).get(120, TimeUnit.SECONDS);
                assertWellFormed(sse);
                Streamed streamed = Streamed.of(sse);
                String which = "stream " + i + " ('" + PROMPTS[i] + "')";
                assertEquals(alone[i].text(), streamed.text(), which);
                assertEquals(alone[i].finishReason().openAiName(), streamed.finishReason(), which);
                assertEquals(alone[i].tokens().length, streamed.completionTokens(), which);
            }
        } finally {
            clients.shutdownNow();
        }
        awaitIdle();
    }

    @Test
    void clientsThatDisconnectMidwayFreeTheirSlots() throws Exception {
        long cancelledBefore = cancelled();
        List<CompletableFuture<Void>> readers = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            String body = body(400, i);
            readers.add(CompletableFuture.runAsync(() -> {
                try {
                    HttpResponse<InputStream> r = GatewayTestSupport.HTTP.send(
                            GatewayTestSupport.post("/chat/completions", body), HttpResponse.BodyHandlers.ofInputStream());
                    BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
                    for (int events = 0; events < 4;) {
                        String line = in.readLine();
                        if (line == null) {
                            throw new IllegalStateException("stream ended early: status " + r.statusCode());
                        }
                        if (line.startsWith("data: ")) {
                            events++;
                        }
                    }
                    r.body().close(); // goes away midway through a 400-token answer
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        CompletableFuture.allOf(readers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        awaitIdle();
        assertTrue(cancelled() > cancelledBefore, "the gateway saw clients leave and cancelled their sequences");
    }

    /** Every row of the batch is free again and nothing waits. */
    private void awaitIdle() throws InterruptedException {
        BatchScheduler s = pool.ifLoaded(MODEL).orElseThrow();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((s.running() > 0 || s.waiting() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, s.running(), "running sequences");
        assertEquals(0, s.waiting(), "waiting sequences");
    }
}
