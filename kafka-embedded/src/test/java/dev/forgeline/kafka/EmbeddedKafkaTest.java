package dev.forgeline.kafka;

import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

class EmbeddedKafkaTest {

    @Test
    void createsEveryTopicWithItsSettingsAndKeepsDataAcrossRestart(@TempDir Path dir) throws Exception {
        List<String> received = new ArrayList<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir)) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
                Set<String> names = admin.listTopics().names().get();
                for (Topics.TopicSpec spec : Topics.ALL) {
                    assertTrue(names.contains(spec.name()), "missing topic " + spec.name());
                }
                TopicDescription requests = admin.describeTopics(List.of(Topics.TRAINING_REQUESTS))
                        .allTopicNames().get().get(Topics.TRAINING_REQUESTS);
                assertEquals(3, requests.partitions().size());
                var resource = new ConfigResource(ConfigResource.Type.TOPIC, Topics.MODELS);
                String policy = admin.describeConfigs(List.of(resource)).all().get().get(resource)
                        .get("cleanup.policy").value();
                assertEquals("compact", policy);
                var jobs = new ConfigResource(ConfigResource.Type.TOPIC, Topics.JOBS);
                assertEquals("compact", admin.describeConfigs(List.of(jobs)).all().get().get(jobs).get("cleanup.policy").value());
            }
            produce(kafka.bootstrapServers(), "before-restart");
            int port = kafka.port();

            kafka.stop();
            assertFalse(kafka.isRunning());
            assertThrows(Exception.class, () -> new Socket("127.0.0.1", port).close(), "port still open after stop");
            kafka.restart();
            assertEquals(port, kafka.port());
            produce(kafka.bootstrapServers(), "after-restart");
            received.addAll(consumeAll(kafka.bootstrapServers(), 2));
        }
        assertEquals(List.of("before-restart", "after-restart"), received);

        // A new broker object on the same directory (a new process, in local mode) finds the same data and port.
        try (EmbeddedKafka again = EmbeddedKafka.start(dir)) {
            assertEquals(List.of("before-restart", "after-restart"), consumeAll(again.bootstrapServers(), 2));
        }
    }

    private static void produce(String bootstrap, String value) throws Exception {
        try (var producer = new KafkaProducer<String, String>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(Topics.DLQ, "k", value)).get();
        }
    }

    private static List<String> consumeAll(String bootstrap, int expected) {
        try (var consumer = new KafkaConsumer<String, String>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(Topics.DLQ));
            List<String> values = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (values.size() < expected && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) values.add(r.value());
            }
            return values.stream().collect(Collectors.toList());
        }
    }
}
