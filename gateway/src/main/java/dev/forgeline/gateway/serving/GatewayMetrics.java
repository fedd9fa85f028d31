package dev.forgeline.gateway.serving;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;

/**
 * Per-model serving metrics (Prometheus at {@code /q/metrics}): time to first token, end-to-end
 * latency, tokens in and out, requests by outcome. Running and waiting sequences are gauges
 * registered by {@link dev.forgeline.gateway.models.ModelPool} when a model loads.
 */
@ApplicationScoped
public class GatewayMetrics {

    @Inject
    MeterRegistry registry;

    public void firstToken(String model, long nanos) {
        Timer.builder("forge.gateway.time.to.first.token").description("time from request to first generated token")
                .tag("model", model).publishPercentileHistogram().register(registry).record(Duration.ofNanos(nanos));
    }

    public void finished(String model, long nanos, int promptTokens, int completionTokens, String outcome) {
        Timer.builder("forge.gateway.request.duration").description("end-to-end latency of a completion request")
                .tag("model", model).tag("outcome", outcome).publishPercentileHistogram().register(registry)
                .record(Duration.ofNanos(nanos));
        Counter.builder("forge.gateway.prompt.tokens").description("prompt tokens processed").tag("model", model)
                .register(registry).increment(promptTokens);
        Counter.builder("forge.gateway.generated.tokens").description("tokens generated").tag("model", model)
                .register(registry).increment(completionTokens);
    }
}
