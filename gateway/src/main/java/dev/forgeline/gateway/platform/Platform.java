package dev.forgeline.gateway.platform;

import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.jobs.PlatformView;
import dev.forgeline.jobs.TracedProducer;
import io.opentelemetry.api.OpenTelemetry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The gateway's hold on the platform's topics, for the fine-tuning API and the dashboard: a
 * {@link PlatformView} of jobs, events, datasets and models, and a producer for the requests and
 * cancels they publish. The view starts in the background (a broker that is not up yet must not
 * stop the gateway from serving models); until it has caught up, {@link #view()} answers 503.
 */
@ApplicationScoped
public class Platform {

    private static final Logger LOG = Logger.getLogger(Platform.class);

    @Inject
    GatewayConfig config;

    @Inject
    OpenTelemetry openTelemetry;

    @ConfigProperty(name = "kafka.bootstrap.servers", defaultValue = "127.0.0.1:9092")
    String bootstrapServers;

    private volatile PlatformView view;
    private volatile TracedProducer producer;
    private volatile boolean stopped;

    void start(@Observes StartupEvent ignored) {
        if (!config.registryEnabled()) {
            return;
        }
        Thread starter = new Thread(this::connect, "platform-view");
        starter.setDaemon(true);
        starter.start();
    }

    private void connect() {
        long delayMs = 1000;
        while (!stopped && view == null) {
            try {
                view = PlatformView.start(bootstrapServers, "gateway");
            } catch (RuntimeException e) {
                LOG.warnf("platform topics not readable yet (%s); retrying in %d s", e.getClass().getSimpleName(), delayMs / 1000);
                sleep(delayMs);
                delayMs = Math.min(delayMs * 2, 30_000);
            }
        }
        if (stopped && view != null) {
            view.close();
        }
    }

    /** The view of the platform's topics; 503 while it is still catching up (or the registry is off). */
    public PlatformView view() {
        PlatformView v = view;
        if (v == null) {
            throw ApiError.unavailable("The job store is not ready yet (waiting for Kafka)");
        }
        return v;
    }

    /** Publishes a record (a contracts record or a JSON string) and waits for the broker's acknowledgement. */
    public void publish(String topic, String key, Object value) {
        try {
            producer().send(topic, key, value).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.unavailable("Interrupted while publishing to Kafka");
        } catch (Exception e) {
            LOG.warnf("publishing to %s failed: %s", topic, e.getClass().getName());
            throw ApiError.unavailable("Kafka did not accept the request in time; retry");
        }
    }

    private synchronized TracedProducer producer() {
        if (producer == null) {
            producer = TracedProducer.create(bootstrapServers, "gateway-platform", openTelemetry);
        }
        return producer;
    }

    void stop(@Observes ShutdownEvent ignored) {
        stopped = true;
        PlatformView v = view;
        if (v != null) {
            v.close();
        }
        synchronized (this) {
            if (producer != null) {
                producer.close();
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
