package dev.forgeline.kafka;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A Quarkus test resource that points {@code kafka.bootstrap.servers} at a real embedded broker:
 * {@code @WithTestResource(KafkaBrokerTestResource.class)}.
 *
 * <p>One broker serves every test class of a test JVM: starting a broker costs seconds, and
 * Quarkus restarts the application (and calls {@link #stop()}) between classes with different
 * resources. The broker and its temporary directory go away when the JVM exits.
 */
public class KafkaBrokerTestResource implements QuarkusTestResourceLifecycleManager {
    /**
     * The broker starts before the application's log settings apply, and its INFO lines would
     * bury the test's own; held here because JUL keeps loggers only weakly.
     */
    private static final List<Logger> QUIET = List.of("kafka", "org.apache.kafka", "state.change.logger").stream()
            .map(Logger::getLogger).toList();
    private static EmbeddedKafka broker;

    /** The shared broker, started on first use. Tests may use it to produce and consume directly. */
    public static synchronized EmbeddedKafka broker() {
        if (broker == null) {
            QUIET.forEach(logger -> logger.setLevel(Level.WARNING));
            try {
                Path dir = Files.createTempDirectory("forge-kafka-test-");
                EmbeddedKafka started = EmbeddedKafka.start(dir);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    started.close();
                    deleteTree(dir);
                }, "test-kafka-shutdown"));
                broker = started;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a directory for the test broker", e);
            }
        }
        return broker;
    }

    @Override
    public Map<String, String> start() {
        return Map.of("kafka.bootstrap.servers", broker().bootstrapServers());
    }

    @Override
    public void stop() {
        // kept for the next test class of this JVM; see the class comment
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory; the OS cleans it eventually
        }
    }
}
