package dev.forgeline.jobs;

import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two replicas in one group. The one running a job dies after checkpointing step 3 (no commit, no
 * final status); the other takes the partition, resumes from step-3, and finishes. A later
 * redelivery, and a fresh replica reading the topic from the start, do not run the job again.
 */
class ResumeAfterCrashTest {
    private static final String TOPIC = "test.resume";
    private static final int STEPS = 5;

    /** Which replica ran which step, and how each invocation started. */
    private final List<String> work = Collections.synchronizedList(new ArrayList<>());
    private final List<String> invocations = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch firstAtStep3 = new CountDownLatch(1);

    private JobHandler<TestRequest> handler(String replica) {
        return JobHandler.of("test", TOPIC, TestRequest.class, ctx -> {
            Optional<String> resume = ctx.lastCheckpoint();
            invocations.add(replica + " attempt " + ctx.attempt() + " from " + resume.orElse("start"));
            int first = resume.map(m -> Integer.parseInt(m.substring("step-".length())) + 1).orElse(1);
            for (int step = first; step <= STEPS; step++) {
                work.add(replica + ":step-" + step);
                ctx.checkpoint("step-" + step);
                ctx.progress(step / (double) STEPS, java.util.Map.of("step", step));
                if (step == 3 && invocations.size() == 1) {
                    firstAtStep3.countDown();
                    Thread.sleep(60_000); // a long step; the crash interrupts it
                }
            }
            return JobResult.empty().withMetric("steps", STEPS);
        });
    }

    @Test
    void theSurvivorResumesFromTheLastCheckpointAndTheJobRunsToTheEndOnce() throws Exception {
        TestKafka.createTopic(TOPIC, 1);
        String run = UUID.randomUUID().toString().substring(0, 8);
        String group = "resume-" + run;
        String job = "resume-job-" + run;
        TopicPartition tp = new TopicPartition(TOPIC, 0);
        try (JobStore watch = JobStore.start(TestKafka.bootstrap(), "resume-watch-" + run);
             KafkaProducer<String, String> producer = TestKafka.producer();
             Admin admin = TestKafka.admin()) {
            JobWorker a = new JobWorker(TestKafka.workerConfig(group, "replica-a-" + run), handler("a")).start();
            TestKafka.await("replica a owns the partition", Duration.ofSeconds(30), () -> a.assignment().contains(tp));
            JobWorker b = new JobWorker(TestKafka.workerConfig(group, "replica-b-" + run), handler("b")).start();
            TestKafka.awaitGroupStable(admin, group, 2);
            assertTrue(a.assignment().contains(tp), "sticky assignment keeps the partition on a");

            TestKafka.send(producer, TOPIC, job, TestRequest.of(job, STEPS));
            assertTrue(firstAtStep3.await(30, TimeUnit.SECONDS), "replica a reached step 3");
            TestKafka.await("checkpoint step-3 recorded", Duration.ofSeconds(10),
                    () -> watch.get(job).map(s -> "step-3".equals(s.checkpoint())).orElse(false));

            long crashAt = System.nanoTime();
            a.crash();
            JobStatus done = TestKafka.awaitState(watch, job, JobState.SUCCEEDED, Duration.ofSeconds(60));
            System.out.printf("ResumeAfterCrashTest: replica b finished the job %.1f s after the crash%n",
                    (System.nanoTime() - crashAt) / 1e9);
            assertTrue(b.assignment().contains(tp));

            assertEquals(List.of("a attempt 1 from start", "b attempt 2 from step-3"), invocations);
            assertEquals(List.of("a:step-1", "a:step-2", "a:step-3", "b:step-4", "b:step-5"), work,
                    "no step before the checkpoint ran twice");
            assertEquals(2, done.attempt());
            assertEquals("step-5", done.checkpoint());
            assertEquals(1.0, done.progress());
            List<JobStatus> history = TestKafka.statusHistory(job);
            assertEquals(1, TestKafka.count(history, JobState.SUCCEEDED), history.toString());
            assertEquals(0, TestKafka.count(history, JobState.FAILED));
            assertEquals(0, TestKafka.count(history, JobState.CANCELLED));
            TestKafka.await("request offset committed by b", Duration.ofSeconds(20),
                    () -> TestKafka.fullyCommitted(admin, group, TOPIC, 1));

            // A redelivered request for the finished job does not run it again.
            TestKafka.send(producer, TOPIC, job, TestRequest.of(job, STEPS));
            TestKafka.await("redelivery consumed", Duration.ofSeconds(20),
                    () -> TestKafka.fullyCommitted(admin, group, TOPIC, 1));

            // Neither does a fresh replica of another group that reads the whole topic with a job store
            // it has just started.
            String otherGroup = "resume-fresh-" + run;
            try (JobWorker c = new JobWorker(TestKafka.workerConfig(otherGroup, "replica-c-" + run), handler("c")).start()) {
                TestKafka.await("fresh replica consumed both requests", Duration.ofSeconds(30),
                        () -> TestKafka.fullyCommitted(admin, otherGroup, TOPIC, 1));
            }
            b.close();
            assertEquals(2, invocations.size(), invocations.toString());
            assertEquals(5, work.size());
            assertEquals(1, TestKafka.count(TestKafka.statusHistory(job), JobState.SUCCEEDED));
        }
    }

    @Test
    void aGracefulCloseHandsTheRunningJobToTheOtherReplica() throws Exception {
        String topic = "test.handover";
        TestKafka.createTopic(topic, 1);
        String run = UUID.randomUUID().toString().substring(0, 8);
        String group = "handover-" + run;
        String job = "handover-job-" + run;
        TopicPartition tp = new TopicPartition(topic, 0);
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch atStep2 = new CountDownLatch(1);
        JobHandler<TestRequest> handler = JobHandler.of("test", topic, TestRequest.class, ctx -> {
            seen.add("attempt " + ctx.attempt() + " from " + ctx.lastCheckpoint().orElse("start"));
            int first = ctx.lastCheckpoint().map(m -> Integer.parseInt(m.substring(5)) + 1).orElse(1);
            for (int step = first; step <= 4; step++) {
                ctx.checkpoint("step-" + step);
                if (step == 2 && ctx.attempt() == 1) {
                    atStep2.countDown();
                    while (!ctx.isCancelled()) Thread.sleep(10); // a trainer stops at its next step
                    return JobResult.empty();
                }
            }
            return JobResult.empty();
        });
        try (JobStore watch = JobStore.start(TestKafka.bootstrap(), "handover-watch-" + run);
             KafkaProducer<String, String> producer = TestKafka.producer();
             Admin admin = TestKafka.admin()) {
            JobWorker a = new JobWorker(TestKafka.workerConfig(group, "handover-a-" + run), handler).start();
            TestKafka.await("a owns the partition", Duration.ofSeconds(30), () -> a.assignment().contains(tp));
            JobWorker b = new JobWorker(TestKafka.workerConfig(group, "handover-b-" + run), handler).start();
            TestKafka.awaitGroupStable(admin, group, 2);
            TestKafka.send(producer, topic, job, TestRequest.of(job, 4));
            assertTrue(atStep2.await(30, TimeUnit.SECONDS));
            a.close();
            // a wrote no final status and committed nothing: the job is still RUNNING for b to take
            List<JobStatus> afterClose = TestKafka.statusHistory(job).stream()
                    .filter(st -> st.worker() != null && st.worker().startsWith("handover-a")).toList();
            assertEquals(JobState.RUNNING, afterClose.get(afterClose.size() - 1).state());
            assertEquals("step-2", afterClose.get(afterClose.size() - 1).checkpoint());
            JobStatus done = TestKafka.awaitState(watch, job, JobState.SUCCEEDED, Duration.ofSeconds(30));
            assertEquals(List.of("attempt 1 from start", "attempt 2 from step-2"), seen);
            assertEquals(2, done.attempt());
            List<JobStatus> history = TestKafka.statusHistory(job);
            assertEquals(1, TestKafka.count(history, JobState.SUCCEEDED), history.toString());
            assertEquals(0, TestKafka.count(history, JobState.CANCELLED), "a stop for a handover is not a cancel");
            TestKafka.await("b committed", Duration.ofSeconds(20), () -> TestKafka.fullyCommitted(admin, group, topic, 1));
            b.close();
        }
    }
}
