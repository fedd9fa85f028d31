package dev.forgeline.cli;

import dev.forgeline.jobs.PlatformView;
import dev.forgeline.jobs.TracedProducer;
import io.opentelemetry.api.OpenTelemetry;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.TimeUnit;

/**
 * Where the platform is: the Kafka brokers and the gateway, from options or the environment that
 * {@code ./forge} sets for a local {@code ./forge up}. Mixed into every command that needs them.
 */
final class Target implements AutoCloseable {

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", defaultValue = "${env:KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}",
            description = "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, else ${DEFAULT-VALUE})")
    String bootstrap;

    @Option(names = "--gateway", paramLabel = "URL", defaultValue = "${env:FORGE_GATEWAY_URL:-http://127.0.0.1:8000}",
            description = "the gateway (default: $FORGE_GATEWAY_URL, else ${DEFAULT-VALUE})")
    String gateway;

    @Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:FORGE_API_KEY}",
            description = "the gateway's API key when it requires one (default: $FORGE_API_KEY)")
    String apiKey;

    private PlatformView view;
    private TracedProducer producer;

    /** The platform's topics, read up to now; fails fast when no broker answers. */
    PlatformView view() {
        if (view == null) {
            requireKafka();
            try {
                view = PlatformView.start(bootstrap, "forge-cli");
            } catch (RuntimeException e) {
                throw new CliException(Exit.UNREACHABLE, "cannot read Forgeline's topics at " + bootstrap + ": " + e.getMessage());
            }
        }
        return view;
    }

    /** Publishes a record and waits for the broker to acknowledge it. */
    void publish(String topic, String key, Object value) {
        requireKafka();
        if (producer == null) {
            producer = TracedProducer.create(bootstrap, "forge-cli", OpenTelemetry.noop());
        }
        try {
            producer.send(topic, key, value).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(Exit.INTERRUPTED, "interrupted");
        } catch (Exception e) {
            throw new CliException(Exit.UNREACHABLE, "Kafka at " + bootstrap + " did not take the record on " + topic + ": " + e);
        }
    }

    GatewayClient gateway() {
        return new GatewayClient(URI.create(gateway.endsWith("/") ? gateway : gateway + "/"), apiKey);
    }

    /** A TCP connect to the first bootstrap server: a clear message at once instead of a client retrying for a minute. */
    private void requireKafka() {
        String first = bootstrap.split(",")[0].strip();
        int colon = first.lastIndexOf(':');
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(first.substring(0, colon), Integer.parseInt(first.substring(colon + 1))), 3000);
        } catch (IOException | RuntimeException e) {
            throw new CliException(Exit.UNREACHABLE, "no Kafka broker at " + bootstrap
                    + " (start one with ./forge up, or pass --bootstrap / KAFKA_BOOTSTRAP_SERVERS)");
        }
    }

    @Override
    public void close() {
        if (producer != null) producer.close();
        if (view != null) view.close();
    }
}
