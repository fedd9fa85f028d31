package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Many streams at once through the continuous-batching scheduler, and clients that leave midway. */
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

    @Test
    void sixtyFourConcurrentStreamsAllEndWithDone() throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(64);
        try {
            List<Future<GatewayTestSupport.Sse>> streams = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                String body = body(48, i);
                streams.add(clients.submit(() -> GatewayTestSupport.stream("/chat/completions", body)));
            }
            for (Future<GatewayTestSupport.Sse> s : streams) {
                assertWellFormed(s.get(120, TimeUnit.SECONDS));
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
