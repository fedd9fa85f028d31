package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/** One real broker for every test class of this module (started once per JVM), and helpers to read what came out. */
final class TestKafka {
    private static EmbeddedKafka kafka;

    private TestKafka() {}

    static synchronized EmbeddedKafka broker() {
        if (kafka == null) {
            try {
                Path dir = Files.createTempDirectory("forge-jobs-kafka");
                kafka = EmbeddedKafka.start(dir);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    kafka.close();
                    try (Stream<Path> walk = Files.walk(dir)) {
                        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                    } catch (IOException ignored) {
                        // temp dir
                    }
                }));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return kafka;
    }

    static String bootstrap() {
        return broker().bootstrapServers();
    }

    static void createTopic(String name, int partitions) {
        broker().createTopics(List.of(new Topics.TopicSpec(name, partitions, false)));
    }

    /** Worker settings for tests: short timeouts so that crashes and rebalances take seconds. */
    static JobWorkerConfig workerConfig(String group, String clientId) {
        return JobWorkerConfig.of(bootstrap(), group)
                .withClientId(clientId)
                .withTimeouts(Duration.ofMillis(100), Duration.ofSeconds(6), Duration.ofSeconds(1))
                .withMaxPollRecords(10)
                .withStopGrace(Duration.ofSeconds(3))
                .withStatusInterval(Duration.ofMillis(200));
    }

    static KafkaProducer<String, String> producer() {
        return new KafkaProducer<>(Map.of(
                "bootstrap.servers", bootstrap(),
                "acks", "all",
                "linger.ms", 0,
                "key.serializer", StringSerializer.class,
                "value.serializer", StringSerializer.class));
    }

    static void send(KafkaProducer<String, String> producer, String topic, String key, Object value) {
        String json = value == null || value instanceof String ? (String) value : ContractsJson.write(value);
        try {
            producer.send(new ProducerRecord<>(topic, key, json)).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every record now on {@code topic}, from the beginning, that {@code filter} keeps. */
    static List<ConsumerRecord<String, String>> readAll(String topic, Predicate<ConsumerRecord<String, String>> filter) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo p : c.partitionsFor(topic)) tps.add(new TopicPartition(topic, p.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            List<ConsumerRecord<String, String>> out = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) fail("could not read " + topic + " to its end");
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) if (filter.test(r)) out.add(r);
            }
            return out;
        }
    }

    /** Every status record ever written for {@code jobId}, in order. */
    static List<JobStatus> statusHistory(String jobId) {
        return readAll(Topics.JOBS, r -> jobId.equals(r.key())).stream().map(r -> {
            try {
                return ContractsJson.read(r.value(), JobStatus.class);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList();
    }

    static long count(List<JobStatus> history, JobState state) {
        return history.stream().filter(s -> s.state() == state).count();
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static JobStatus awaitState(JobStore store, String jobId, JobState state, Duration timeout) {
        await("job " + jobId + " " + state + " (now " + store.get(jobId).map(JobStatus::state).orElse(null) + ")",
                timeout, () -> store.get(jobId).map(s -> s.state() == state).orElse(false));
        return store.get(jobId).orElseThrow();
    }

    static Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap()));
    }

    /** Committed offset of {@code group} on each partition of {@code topic} equals the partition's end: nothing left to do. */
    static boolean fullyCommitted(Admin admin, String group, String topic, int partitions) {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (int p = 0; p < partitions; p++) request.put(new TopicPartition(topic, p), OffsetSpec.latest());
            var ends = admin.listOffsets(request).all().get(10, TimeUnit.SECONDS);
            for (var e : ends.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                long end = e.getValue().offset();
                if (end > 0 && (c == null || c.offset() != end)) return false;
            }
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    static void awaitGroupStable(Admin admin, String group, int members) {
        await("group " + group + " stable with " + members + " members", Duration.ofSeconds(30), () -> {
            try {
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group)
                        .get(5, TimeUnit.SECONDS);
                return d.groupState() == GroupState.STABLE && d.members().size() == members;
            } catch (Exception e) {
                return false;
            }
        });
    }
}
