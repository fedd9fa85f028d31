package dev.forgeline.jobs;

import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One worker on one topic: duplicates, failures, cancellation, progress. Jobs behave by their payload. */
class JobWorkerTest {
    private static final String TOPIC = "test.worker";
    private static final String RUN = UUID.randomUUID().toString().substring(0, 8);
    private static final String GROUP = "worker-" + RUN;
    private static final Map<String, AtomicInteger> INVOCATIONS = new ConcurrentHashMap<>();

    private static JobWorker worker;
    private static JobStore watch;
    private static KafkaProducer<String, String> producer;
    private static Admin admin;

    @BeforeAll
    static void start() {
        TestKafka.createTopic(TOPIC, 2);
        JobHandler<TestRequest> handler = JobHandler.of("test", TOPIC, TestRequest.class, ctx -> {
            INVOCATIONS.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
            String payload = ctx.request().payload() == null ? "" : ctx.request().payload();
            switch (payload) {
                case "fail" -> throw new IllegalArgumentException("dataset ds-x has no train.jsonl");
                case "slow" -> Thread.sleep(500);
                case "until-cancelled" -> {
                    int step = 0;
                    while (!ctx.isCancelled()) {
                        ctx.progress(Math.min(0.99, ++step / 1000.0), Map.of("step", step));
                        Thread.sleep(20);
                    }
                    return JobResult.empty();
                }
                default -> { }
            }
            for (int i = 1; i <= ctx.request().steps(); i++) ctx.progress(i / (double) ctx.request().steps(), Map.of("step", i));
            return JobResult.empty().withMetric("loss", 0.5).withOutput("model_id", "m-" + ctx.jobId());
        });
        worker = new JobWorker(TestKafka.workerConfig(GROUP, "worker-" + RUN).withMaxConcurrentJobs(2), handler).start();
        watch = JobStore.start(TestKafka.bootstrap(), "watch-" + RUN);
        producer = TestKafka.producer();
        admin = TestKafka.admin();
    }

    @AfterAll
    static void stop() {
        worker.close();
        watch.close();
        producer.close();
        admin.close();
    }

    private static String id(String name) {
        return name + "-" + RUN;
    }

    private static void awaitCommitted() {
        TestKafka.await("every request offset committed", Duration.ofSeconds(20),
                () -> TestKafka.fullyCommitted(admin, GROUP, TOPIC, 2));
    }

    @Test
    void aRequestSentTwiceYieldsOneJob() {
        String job = id("twice");
        TestRequest request = new TestRequest(job, 1, null, 3, "slow");
        TestKafka.send(producer, TOPIC, job, request);
        TestKafka.send(producer, TOPIC, job, request);
        JobStatus done = TestKafka.awaitState(watch, job, JobState.SUCCEEDED, Duration.ofSeconds(20));
        awaitCommitted();
        assertEquals(1, INVOCATIONS.get(job).get(), "the handler ran once");
        List<JobStatus> history = TestKafka.statusHistory(job);
        assertEquals(1, TestKafka.count(history, JobState.SUCCEEDED), history.toString());
        assertEquals(1, TestKafka.count(history, JobState.QUEUED));
        assertEquals(1, done.attempt());
        assertEquals(1.0, done.progress());
        assertEquals(0.5, done.metrics().get("loss"));
        assertEquals("m-" + job, done.result().get("model_id"));

        // And once more, long after it finished.
        TestKafka.send(producer, TOPIC, job, request);
        awaitCommitted();
        assertEquals(1, INVOCATIONS.get(job).get());
        assertEquals(1, TestKafka.count(TestKafka.statusHistory(job), JobState.SUCCEEDED));
    }

    @Test
    void aHandlerExceptionFailsTheJobWithItsMessage() {
        String job = id("fails");
        TestKafka.send(producer, TOPIC, job, new TestRequest(job, 1, null, 1, "fail"));
        JobStatus failed = TestKafka.awaitState(watch, job, JobState.FAILED, Duration.ofSeconds(20));
        assertEquals("dataset ds-x has no train.jsonl", failed.error());
        awaitCommitted();
        // the worker goes on
        String next = id("after-failure");
        TestKafka.send(producer, TOPIC, next, TestRequest.of(next, 1));
        TestKafka.awaitState(watch, next, JobState.SUCCEEDED, Duration.ofSeconds(20));
    }

    @Test
    void aCancelStopsARunningJob() {
        String job = id("cancel-running");
        TestKafka.send(producer, TOPIC, job, new TestRequest(job, 1, null, 1, "until-cancelled"));
        TestKafka.awaitState(watch, job, JobState.RUNNING, Duration.ofSeconds(20));
        TestKafka.await("progress reported", Duration.ofSeconds(10),
                () -> watch.get(job).map(s -> s.progress() > 0).orElse(false));
        assertTrue(worker.runningJobs().contains(job));
        TestKafka.send(producer, Topics.JOB_CANCELS, job, JobCancel.of(job, "user asked"));
        JobStatus cancelled = TestKafka.awaitState(watch, job, JobState.CANCELLED, Duration.ofSeconds(20));
        assertEquals("cancelled: user asked", cancelled.error());
        awaitCommitted();
        assertFalse(worker.runningJobs().contains(job));

        List<JobEvent> events = TestKafka.readAll(Topics.JOB_EVENTS, r -> job.equals(r.key())).stream()
                .map(r -> {
                    try {
                        return dev.forgeline.contracts.ContractsJson.read(r.value(), JobEvent.class);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }).toList();
        assertTrue(events.stream().anyMatch(e -> e.type().equals(JobEvent.PROGRESS) && e.data().containsKey("step")));
        assertEquals("CANCELLED", events.get(events.size() - 1).data().get("state"));
        for (int i = 1; i < events.size(); i++) assertEquals(events.get(i - 1).seq() + 1, events.get(i).seq(), "seq has no gaps");
    }

    @Test
    void aJobCancelledBeforeItsRequestArrivesNeverRuns() {
        String job = id("cancel-early");
        TestKafka.send(producer, Topics.JOB_CANCELS, job, JobCancel.of(job, null));
        TestKafka.await("cancel seen", Duration.ofSeconds(10), () -> worker.jobStore().isCancelRequested(job));
        TestKafka.send(producer, TOPIC, job, TestRequest.of(job, 1));
        JobStatus cancelled = TestKafka.awaitState(watch, job, JobState.CANCELLED, Duration.ofSeconds(20));
        assertEquals("cancelled", cancelled.error());
        awaitCommitted();
        assertFalse(INVOCATIONS.containsKey(job));
    }
}
