package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DeadLetter;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Malformed and invalid requests interleaved with valid ones: each bad one is dead-lettered, each good one runs. */
class DeadLetterTest {
    private static final String TOPIC = "test.dlq-mix";

    /** The kinds of bad record, with the text each dead letter's reason must contain. */
    private static String[] bad(int i, String id) {
        return switch (i % 10) {
            case 0 -> new String[] {"this is not JSON {", "unparseable JSON"};
            case 1 -> new String[] {"[1, 2, 3]", "invalid TrainingRequest: $"};
            case 2 -> new String[] {"\"a string\"", "invalid TrainingRequest: $"};
            case 3 -> new String[] {"{\"job_id\":\"" + id + "\",\"base_model\":\"b\",\"dataset\":\"d\",\"epochs\":\"many\"}",
                    "invalid TrainingRequest: epochs:"};
            case 4 -> new String[] {"{\"job_id\":\"" + id + "\",\"base_model\":\"b\",\"dataset\":\"d\",\"learning_rate\":0}",
                    "learning_rate: must be > 0"};
            case 5 -> new String[] {"{\"job_id\":\"" + id + "\",\"base_model\":\"b\",\"dataset\":\"d\",\"lora\":{\"r\":0}}",
                    "lora.r: must be > 0"};
            case 6 -> new String[] {"{\"job_id\":\"" + id + "\",\"base_model\":\"b\",\"dataset\":\"d\",\"gradient_accumulation_steps\":0}",
                    "gradient_accumulation_steps: must be >= 1"};
            case 7 -> new String[] {"{\"base_model\":\"b\",\"dataset\":\"d\"}", "job_id: required"};
            case 8 -> new String[] {"", "empty value"};
            default -> new String[] {"{\"job_id\":\"" + id + "\",\"method\":\"dpo-ish\",\"base_model\":\"b\",\"dataset\":\"d\"}",
                    "invalid TrainingRequest: method:"};
        };
    }

    @Test
    void hundredBadAndHundredGoodRequestsOnOneTopic() {
        TestKafka.createTopic(TOPIC, 3);
        String run = UUID.randomUUID().toString().substring(0, 8);
        String group = "dlq-" + run;
        Map<String, AtomicInteger> invocations = new ConcurrentHashMap<>();
        JobHandler<TrainingRequest> handler = JobHandler.of("train", TOPIC, TrainingRequest.class, ctx -> {
            invocations.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
            ctx.progress(0.5, Map.of("step", 1));
            return JobResult.empty().withMetric("loss", 0.1);
        });
        long t0 = System.nanoTime();
        Set<String> valid = new HashSet<>();
        Map<String, String> expectedReason = new HashMap<>(); // original value -> reason fragment
        Set<String> invalidWithJobId = new HashSet<>();
        try (JobStore watch = JobStore.start(TestKafka.bootstrap(), "dlq-watch-" + run);
             JobWorker worker = new JobWorker(TestKafka.workerConfig(group, "dlq-worker-" + run).withMaxConcurrentJobs(3),
                     handler).start();
             KafkaProducer<String, String> producer = TestKafka.producer();
             Admin admin = TestKafka.admin()) {
            for (int i = 0; i < 100; i++) {
                String goodId = "mix-" + run + "-ok-" + i;
                valid.add(goodId);
                TestKafka.send(producer, TOPIC, goodId, TrainingRequest.of(goodId, "file:/models/base", "ds-1"));
                String badId = "mix-" + run + "-bad-" + i;
                String[] b = bad(i, badId);
                String value = b[0];
                if (!value.isEmpty()) expectedReason.put(value, b[1]);
                if (value.contains(badId)) invalidWithJobId.add(badId);
                // keys: job id where there is one, none for some, a stray key for others
                String key = i % 3 == 0 ? null : badId;
                TestKafka.send(producer, TOPIC, key, value);
            }
            for (String id : valid) TestKafka.awaitState(watch, id, JobState.SUCCEEDED, Duration.ofSeconds(90));
            long jobsDone = System.nanoTime();

            List<DeadLetter> letters = new ArrayList<>();
            TestKafka.await("100 dead letters", Duration.ofSeconds(30), () -> {
                letters.clear();
                TestKafka.readAll(Topics.DLQ, r -> true).forEach(r -> {
                    try {
                        DeadLetter d = ContractsJson.read(r.value(), DeadLetter.class);
                        if (d.sourceTopic().equals(TOPIC)) letters.add(d);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                return letters.size() >= 100;
            });
            assertEquals(100, letters.size(), "one dead letter per bad record");
            Set<String> coordinates = new HashSet<>();
            int empties = 0;
            for (DeadLetter d : letters) {
                assertTrue(coordinates.add(d.partition() + "@" + d.offset()), "each bad record once: " + d);
                assertTrue(d.partition() >= 0 && d.partition() < 3 && d.offset() >= 0, d.toString());
                assertTrue(d.timestamp() != null && d.schemaVersion() == 1);
                String lookup = d.value() == null || d.value().isEmpty() ? null : d.value();
                if (lookup == null) {
                    empties++;
                    assertTrue(d.reason().contains("empty value"), d.reason());
                    continue;
                }
                String fragment = expectedReason.get(lookup);
                assertTrue(fragment != null, "dead letter carries the original value: " + d.value());
                assertTrue(d.reason().contains(fragment), "reason '" + d.reason() + "' should contain '" + fragment + "'");
            }
            assertEquals(10, empties);
            assertTrue(letters.stream().anyMatch(d -> d.errors().stream().anyMatch(e -> e.field().equals("lora.r"))),
                    "field errors travel with the dead letter");

            // The valid ones ran exactly once; the invalid ones that named a job are FAILED with the reason.
            assertEquals(valid, invocations.keySet());
            invocations.values().forEach(n -> assertEquals(1, n.get()));
            for (String id : invalidWithJobId) {
                JobStatus s = TestKafka.awaitState(watch, id, JobState.FAILED, Duration.ofSeconds(10));
                assertTrue(s.error().startsWith("invalid TrainingRequest: "), s.error());
                assertFalse(s.error().contains("\tat "), "no stack trace in the status");
            }
            TestKafka.await("all offsets committed", Duration.ofSeconds(20),
                    () -> TestKafka.fullyCommitted(admin, group, TOPIC, 3));

            // Still consuming afterwards.
            String lastId = "mix-" + run + "-last";
            TestKafka.send(producer, TOPIC, lastId, TrainingRequest.of(lastId, "file:/models/base", "ds-1"));
            TestKafka.awaitState(watch, lastId, JobState.SUCCEEDED, Duration.ofSeconds(20));
            assertTrue(worker.isAlive());
            System.out.printf("DeadLetterTest: 100 jobs + 100 dead letters in %.1f s%n", (jobsDone - t0) / 1e9);
        }
    }
}
