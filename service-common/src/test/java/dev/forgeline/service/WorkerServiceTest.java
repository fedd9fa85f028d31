package dev.forgeline.service;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every worker service answers: ready (Kafka reachable, worker consuming), Prometheus metrics,
 * and a FAILED job with its reason for a request it cannot run, read back from {@code forge.jobs}.
 * A service's test extends this under {@code @QuarkusTest} with the embedded broker.
 */
public abstract class WorkerServiceTest {

    protected abstract String requestTopic();

    /** A request the service cannot run: it must end FAILED with {@link #expectedError()}. */
    protected abstract JobRequest request(String jobId);

    /** What the FAILED status of {@link #request} says (a part of it). */
    protected abstract String expectedError();

    @Test
    void readyWithKafkaAndWorker() {
        given().get("/q/health/ready").then()
                .statusCode(200)
                .body("status", is("UP"))
                .body(containsString("Kafka cluster"))
                .body(containsString("Job workers"));
    }

    @Test
    void prometheusMetrics() {
        given().get("/q/metrics").then().statusCode(200).body(containsString("jvm_memory_used_bytes"));
    }

    /**
     * Also checks that W3C trace context travels with the default settings (nothing exported, nothing
     * sampled): the status the service writes carries the request's trace id in {@code traceparent}.
     */
    @Test
    void requestItCannotRunEndsFailedWithItsReason() throws Exception {
        String bootstrap = ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
        String jobId = "cannot-run-" + UUID.randomUUID();
        String traceId = UUID.randomUUID().toString().replace("-", "");
        try (var producer = new KafkaProducer<String, String>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class))) {
            var record = new ProducerRecord<>(requestTopic(), jobId, ContractsJson.write(request(jobId)));
            record.headers().add("traceparent",
                    ("00-" + traceId + "-00f067aa0ba902b7-00").getBytes(StandardCharsets.US_ASCII));
            producer.send(record).get(10, TimeUnit.SECONDS);
        }

        ConsumerRecord<String, String> terminal = awaitTerminal(bootstrap, jobId, Duration.ofSeconds(60));
        assertNotNull(terminal, "no terminal status for " + jobId + " on " + Topics.JOBS);
        JobStatus last = ContractsJson.read(terminal.value(), JobStatus.class);
        assertEquals(JobState.FAILED, last.state());
        assertTrue(last.error().contains(expectedError()), "error: " + last.error());
        Header traceparent = terminal.headers().lastHeader("traceparent");
        assertNotNull(traceparent, "the status record carries no traceparent header");
        String value = new String(traceparent.value(), StandardCharsets.US_ASCII);
        assertEquals(traceId, value.split("-")[1], "trace id of the status record: " + value);
    }

    private static ConsumerRecord<String, String> awaitTerminal(String bootstrap, String jobId, Duration timeout)
            throws Exception {
        try (var consumer = new KafkaConsumer<String, String>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.JOBS).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (!jobId.equals(r.key()) || r.value() == null) continue;
                    JobStatus status = ContractsJson.read(r.value(), JobStatus.class);
                    if (status.state().isTerminal()) return r;
                }
            }
            return null;
        }
    }
}
