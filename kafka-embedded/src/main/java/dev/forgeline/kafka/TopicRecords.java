package dev.forgeline.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * What tests and scripts do with Forgeline's topics: send a message as JSON, and wait for a value of
 * a key. {@link #main} offers both to shell scripts (scripts/smoke.sh).
 */
public final class TopicRecords {
    private TopicRecords() {}

    public static void send(String bootstrap, String topic, String key, Object value) throws Exception {
        try (var producer = new KafkaProducer<String, String>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class))) {
            producer.send(new ProducerRecord<>(topic, key, ContractsJson.write(value))).get(10, TimeUnit.SECONDS);
        }
    }

    /** Reads {@code topic} from its start: the first value of {@code key} that satisfies {@code until}; null at the timeout. */
    public static <T> T await(String bootstrap, String topic, String key, Class<T> type, Predicate<T> until,
            Duration timeout) throws Exception {
        try (var consumer = new KafkaConsumer<String, String>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (key.equals(r.key()) && r.value() != null) {
                        T value = ContractsJson.read(r.value(), type);
                        if (until.test(value)) return value;
                    }
                }
            }
            return null;
        }
    }

    /**
     * {@code send BOOTSTRAP TOPIC KEY FILE}: the JSON in FILE as one record.
     * {@code await BOOTSTRAP TOPIC KEY FIELD REGEX SECONDS}: prints the first value of KEY whose
     * top-level FIELD matches REGEX (a missing or null field is ""); exit status 1 at the timeout.
     */
    public static void main(String[] args) throws Exception {
        String usage = "usage: send BOOTSTRAP TOPIC KEY FILE | await BOOTSTRAP TOPIC KEY FIELD REGEX SECONDS";
        if (args.length == 5 && args[0].equals("send")) {
            JsonNode json = ContractsJson.mapper().readTree(Files.readString(Path.of(args[4])));
            send(args[1], args[2], args[3], json);
        } else if (args.length == 7 && args[0].equals("await")) {
            String field = args[4];
            Pattern regex = Pattern.compile(args[5]);
            JsonNode found = await(args[1], args[2], args[3], JsonNode.class,
                    n -> regex.matcher(n.hasNonNull(field) ? n.get(field).asText() : "").matches(),
                    Duration.ofSeconds(Long.parseLong(args[6])));
            if (found == null) {
                System.err.println("no value of " + args[3] + " on " + args[2] + " with " + field + " matching " + args[5]);
                System.exit(1);
            }
            System.out.println(found);
        } else {
            System.err.println(usage);
            System.exit(2);
        }
    }
}
