package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * With a small batch and a short waiting queue, the excess of a burst gets 429 with Retry-After; the rest complete.
 * The load timeout is shorter than any model load, so the first request also shows the 503 of a model still loading.
 */
@QuarkusTest
@TestProfile(BackpressureTest.SmallQueue.class)
@WithTestResource(KafkaBrokerTestResource.class)
class BackpressureTest {

    public static class SmallQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("forge.gateway.max-batch", "2", "forge.gateway.max-waiting", "2",
                    "forge.gateway.registry.enabled", "false", "forge.gateway.load-timeout", "1ms");
        }
    }

    @Test
    void excessGets429AndTheRestSucceed() throws Exception {
        GatewayTestSupport.Sse first = GatewayTestSupport.stream("/chat/completions", StreamingLoadTest.body(2, 0));
        assertEquals(503, first.status(), "a model that loads longer than the load timeout: " + first.lines());
        assertNotNull(first.retryAfter(), "Retry-After on 503");
        JsonNode loading = new ObjectMapper().readTree(String.join("\n", first.lines())).get("error");
        assertEquals("model_loading", loading.get("code").asText());
        assertEquals("server_error", loading.get("type").asText());
        assertTrue(loading.get("message").asText().contains(MODEL), loading.toString());

        // the load goes on behind the 503: once it is done the burst meets a running scheduler
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        GatewayTestSupport.Sse warm;
        do {
            Thread.sleep(100);
            warm = GatewayTestSupport.stream("/chat/completions", StreamingLoadTest.body(2, 0));
        } while (warm.status() == 503 && System.nanoTime() < deadline);
        StreamingLoadTest.assertWellFormed(warm);
        ExecutorService clients = Executors.newFixedThreadPool(24);
        List<Future<GatewayTestSupport.Sse>> streams = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            String body = StreamingLoadTest.body(200, i);
            streams.add(clients.submit(() -> GatewayTestSupport.stream("/chat/completions", body)));
        }
        int ok = 0;
        int rejected = 0;
        for (Future<GatewayTestSupport.Sse> f : streams) {
            GatewayTestSupport.Sse sse = f.get(120, TimeUnit.SECONDS);
            if (sse.status() == 429) {
                rejected++;
                assertNotNull(sse.retryAfter(), "Retry-After");
                JsonNode error = new ObjectMapper().readTree(String.join("\n", sse.lines())).get("error");
                assertEquals("rate_limit_exceeded", error.get("code").asText());
            } else {
                ok++;
                StreamingLoadTest.assertWellFormed(sse);
            }
        }
        clients.shutdownNow();
        assertEquals(24, ok + rejected);
        assertTrue(rejected > 0, "some requests were refused");
        assertTrue(ok >= 2, "the queue bound was served: " + ok);
    }
}
