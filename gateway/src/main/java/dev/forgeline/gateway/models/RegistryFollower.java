package dev.forgeline.gateway.models;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.gateway.GatewayConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Tails the compacted {@code forge.models} topic from its beginning, without a consumer group:
 * every gateway replica needs the whole registry, and re-reading it at start rebuilds the
 * catalog. A tombstone (null value) withdraws a model.
 */
@ApplicationScoped
public class RegistryFollower {

    private static final Logger LOG = Logger.getLogger(RegistryFollower.class);

    @Inject
    GatewayConfig config;

    @Inject
    ModelCatalog catalog;

    @ConfigProperty(name = "kafka.bootstrap.servers", defaultValue = "127.0.0.1:9092")
    String bootstrapServers;

    private volatile KafkaConsumer<String, String> consumer;
    private volatile boolean stopped;
    private Thread thread;

    void start(@Observes StartupEvent ignored) {
        if (!config.registryEnabled()) {
            return;
        }
        thread = new Thread(this::run, "registry-follower");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "gateway-registry");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            consumer = c;
            if (stopped) {
                return;
            }
            List<TopicPartition> partitions = List.of();
            while (!stopped && partitions.isEmpty()) {
                partitions = c.partitionsFor(Topics.MODELS, Duration.ofSeconds(10)).stream()
                        .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            while (!stopped) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    apply(r);
                }
            }
        } catch (WakeupException e) {
            // stopping
        } catch (RuntimeException e) {
            if (!stopped) {
                LOG.errorf(e, "the registry follower stopped; new models will not appear until a restart");
            }
        }
    }

    private void apply(ConsumerRecord<String, String> r) {
        if (r.value() == null) {
            if (r.key() != null) {
                catalog.withdraw(r.key());
            }
            return;
        }
        try {
            catalog.apply(ContractsJson.read(r.value(), ModelCard.class));
        } catch (Exception e) {
            LOG.warnf("skipping unreadable model card at %s-%d@%d: %s", r.topic(), r.partition(), r.offset(),
                    e.getMessage());
        }
    }

    void stop(@Observes ShutdownEvent ignored) {
        stopped = true;
        KafkaConsumer<String, String> c = consumer;
        if (c != null) {
            c.wakeup();
        }
    }
}
