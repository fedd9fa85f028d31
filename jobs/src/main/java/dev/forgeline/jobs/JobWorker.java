package dev.forgeline.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DeadLetter;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.SchemaVersion;
import dev.forgeline.contracts.Topics;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * Consumes one request topic in a consumer group and runs each request's job with a
 * {@link JobHandler}, the way every Forgeline worker service does.
 *
 * <ul>
 *   <li>A record that does not parse or validate goes to {@code forge.dlq} (reason, field errors,
 *       source coordinates, original value) and is committed; a valid-JSON request with a job id
 *       also gets a FAILED status so its submitter sees why.</li>
 *   <li>A valid request is recorded QUEUED then RUNNING on {@code forge.jobs}, and its handler runs
 *       on a thread of its own while the record's partition is paused; the poll loop keeps
 *       polling, so a job may run for days without the group evicting this replica.</li>
 *   <li>The request's offset is committed only once the job's terminal status is acknowledged.
 *       When the partition moves away (rebalance, {@link #close()}) a running job is stopped
 *       without a status or commit: the new owner re-reads the request and resumes from
 *       {@link JobContext#lastCheckpoint()}.</li>
 *   <li>Idempotent by job id: before running, the worker syncs its {@link JobStore} with
 *       {@code forge.jobs}; a job that already reached a terminal state is skipped.</li>
 *   <li>Cancel: a {@link dev.forgeline.contracts.JobCancel} on {@code forge.job-cancels}, which
 *       every replica tails, turns {@link JobContext#isCancelled()} on; the job ends CANCELLED.</li>
 *   <li>The request's {@code traceparent} header parents a CONSUMER span around the handler; every
 *       record the job produces carries that trace.</li>
 * </ul>
 */
public final class JobWorker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobWorker.class);
    private static final AttributeKey<String> JOB_ID = AttributeKey.stringKey("forge.job.id");
    private static final AttributeKey<String> JOB_STATE = AttributeKey.stringKey("forge.job.state");
    private static final AttributeKey<Long> JOB_ATTEMPT = AttributeKey.longKey("forge.job.attempt");
    private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(10);
    private static final int MAX_REASON = 400;

    private enum Decision { DONE, STARTED, RETRY }

    private final JobWorkerConfig config;
    private final JobHandler<JobRequest> handler;
    private final JobStore sharedStore;
    private final OpenTelemetry otel;
    private final Tracer tracer;
    private final Map<TopicPartition, Run> running = new ConcurrentHashMap<>();
    private final BlockingQueue<Run> finished = new LinkedBlockingQueue<>();
    private final Set<TopicPartition> assignment = ConcurrentHashMap.newKeySet();
    /** Runs given up whose threads have not returned yet: their job must not start again meanwhile. */
    private final Set<Run> leftBehind = ConcurrentHashMap.newKeySet();
    /** Offsets of records handled without a job (dead letters, duplicates); poll thread only. */
    private final Map<TopicPartition, OffsetAndMetadata> pendingCommits = new HashMap<>();
    private final AtomicInteger runnerCount = new AtomicInteger();
    private final ExecutorService runners;
    /**
     * Statuses and events leave through one thread, in order: while the broker is away the producer
     * blocks in send() (waiting for metadata), and that must not stall a job's thread.
     */
    private final ExecutorService sender;

    private JobStore store;
    private KafkaConsumer<String, String> consumer;
    private KafkaProducer<String, String> producer;
    private TracedProducer traced;
    private Thread pollThread;
    private final CountDownLatch subscribed = new CountDownLatch(1);
    private volatile boolean stopping;
    private volatile boolean crashing;
    private volatile Throwable failure;

    public JobWorker(JobWorkerConfig config, JobHandler<? extends JobRequest> handler) {
        this(config, handler, null);
    }

    /** With a {@link JobStore} shared by several workers of one process; the caller closes it. */
    @SuppressWarnings("unchecked")
    public JobWorker(JobWorkerConfig config, JobHandler<? extends JobRequest> handler, JobStore sharedStore) {
        this.config = config;
        this.handler = (JobHandler<JobRequest>) handler;
        this.sharedStore = sharedStore;
        this.otel = config.openTelemetry();
        this.tracer = otel.getTracer("dev.forgeline.jobs");
        this.runners = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, config.clientId() + "-job-" + runnerCount.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, config.clientId() + "-sender");
            t.setDaemon(true);
            return t;
        });
    }

    /** Catches the job store up with forge.jobs, then joins the group; returns once subscribed. */
    public synchronized JobWorker start() {
        if (pollThread != null) throw new IllegalStateException("worker " + config.clientId() + " already started");
        store = sharedStore != null ? sharedStore : JobStore.start(config.bootstrapServers(), config.clientId());
        producer = new KafkaProducer<>(TracedProducer.producerConfig(config.bootstrapServers(), config.clientId(),
                producerOverrides()));
        traced = new TracedProducer(producer, otel);
        consumer = new KafkaConsumer<>(consumerConfig());
        pollThread = new Thread(this::pollLoop, config.clientId() + "-poll");
        pollThread.start();
        try {
            subscribed.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info("worker {} consuming {} in group {}", config.clientId(), handler.requestTopic(), config.groupId());
        return this;
    }

    /** The poll loop and the job store are running (a readiness check). */
    public boolean isAlive() {
        return pollThread != null && pollThread.isAlive() && failure == null && store != null && store.isAlive();
    }

    public JobWorkerConfig config() {
        return config;
    }

    public JobStore jobStore() {
        return store;
    }

    public Set<TopicPartition> assignment() {
        return Set.copyOf(assignment);
    }

    public Set<String> runningJobs() {
        return running.values().stream().map(r -> r.jobId).collect(Collectors.toUnmodifiableSet());
    }

    /**
     * Stops gracefully: running jobs are asked to stop ({@link JobContext#isCancelled()}) and given
     * {@code stopGrace} to return; they are left for another replica to resume (no status, no commit).
     * Offsets of finished work are committed and the group is left at once.
     */
    @Override
    public void close() {
        stopAndJoin(false);
    }

    /**
     * Simulates a crash, for tests: the poll loop and the jobs stop at once, nothing more is
     * committed or published, and the consumer stays in the group until its session times out, as
     * a killed process would.
     */
    public void crash() {
        stopAndJoin(true);
    }

    private void stopAndJoin(boolean crash) {
        Thread t;
        synchronized (this) {
            t = pollThread;
            if (t == null || stopping) return;
            crashing = crash;
            stopping = true;
        }
        if (crash) running.values().forEach(Run::abandon);
        // No consumer.wakeup(): the loop notices the flag within one poll timeout, and a pending
        // wakeup would break the commits of the graceful path instead.
        try {
            t.join(config.stopGrace().toMillis() + 30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (crash) {
            sender.shutdownNow();
        } else {
            sender.shutdown();
            try {
                sender.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        producer.close(crash ? Duration.ZERO : Duration.ofSeconds(5));
        runners.shutdownNow();
        if (sharedStore == null) store.close();
        LOG.info("worker {} {}", config.clientId(), crash ? "crashed (simulated)" : "closed");
    }

    /** The producer retries every write until the broker returns, for as long as the outage budget allows. */
    private Map<String, Object> producerOverrides() {
        Map<String, Object> p = new HashMap<>();
        int budget = (int) Math.min(Integer.MAX_VALUE, config.outageBudget().toMillis());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, budget);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(30_000, budget));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, budget);
        p.putAll(config.producerOverrides());
        return p;
    }

    private Map<String, Object> consumerConfig() {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, config.clientId());
        // one member id per worker, also when a process runs workers for several topics
        if (config.instanceId() != null) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, config.instanceId() + "-" + handler.requestTopic());
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        // Cooperative: a replica joining the group moves only the partitions it takes, so the jobs
        // running on the other partitions are not stopped by every rebalance.
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) config.sessionTimeout().toMillis());
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, (int) config.heartbeatInterval().toMillis());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, config.maxPollRecords());
        // A partition resumed after a job waits for the fetch in flight; keep that wait near one poll.
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, (int) Math.max(10, Math.min(500, config.pollTimeout().toMillis())));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.putAll(config.consumerOverrides());
        return p;
    }

    // ---------------------------------------------------------------- poll thread

    private void pollLoop() {
        try {
            consumer.subscribe(List.of(handler.requestTopic()), new Rebalance());
            subscribed.countDown();
            while (!stopping) {
                drainFinished();
                applyPauses();
                ConsumerRecords<String, String> records = consumer.poll(config.pollTimeout());
                for (TopicPartition tp : records.partitions()) {
                    if (stopping) break;
                    processPartition(tp, records.records(tp));
                }
                commitPending();
            }
        } catch (WakeupException e) {
            if (!stopping) failure = e;
        } catch (Throwable t) {
            failure = t;
            LOG.error("worker {} poll loop stopped", config.clientId(), t);
        } finally {
            subscribed.countDown();
            shutdownConsumer();
        }
    }

    private void shutdownConsumer() {
        try {
            if (crashing) {
                running.values().forEach(Run::abandon);
                consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP)
                        .withTimeout(Duration.ZERO));
                return;
            }
            drainFinished();
            giveUp(new ArrayList<>(running.keySet()));
            commitPending();
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        } catch (Exception e) {
            LOG.warn("worker {}: error while closing the consumer: {}", config.clientId(), e.toString());
        }
    }

    private void processPartition(TopicPartition tp, List<ConsumerRecord<String, String>> records) {
        for (ConsumerRecord<String, String> record : records) {
            if (running.containsKey(tp) || running.size() >= config.maxConcurrentJobs() || stopping) {
                // Not now: read it again once this partition or a job slot is free.
                consumer.seek(tp, record.offset());
                return;
            }
            Decision d;
            try {
                d = handle(record);
            } catch (RuntimeException e) {
                LOG.warn("worker {}: cannot handle {}-{}@{} yet: {}", config.clientId(), tp.topic(), tp.partition(),
                        record.offset(), e.toString());
                d = Decision.RETRY;
            }
            switch (d) {
                case DONE -> pendingCommits.put(tp, new OffsetAndMetadata(record.offset() + 1));
                case STARTED -> {
                    consumer.pause(List.of(tp));
                    consumer.seek(tp, record.offset() + 1);
                    return;
                }
                case RETRY -> {
                    consumer.seek(tp, record.offset());
                    sleepQuietly(200);
                    return;
                }
            }
        }
    }

    private void applyPauses() {
        Set<TopicPartition> assigned = consumer.assignment();
        if (assigned.isEmpty()) return;
        Set<TopicPartition> pause = running.size() >= config.maxConcurrentJobs()
                ? assigned
                : assigned.stream().filter(running::containsKey).collect(Collectors.toSet());
        Set<TopicPartition> resume = new HashSet<>(assigned);
        resume.removeAll(pause);
        consumer.pause(pause);
        consumer.resume(resume);
    }

    private void drainFinished() {
        Run run;
        while ((run = finished.poll()) != null) {
            if (!running.remove(run.tp, run)) continue; // already settled by a revocation
            if (run.terminalWritten) {
                commit(run.tp, run.offset + 1);
            } else if (assignment.contains(run.tp)) {
                consumer.seek(run.tp, run.offset); // stopped without an outcome: read the request again
            }
        }
    }

    private void commitPending() {
        if (pendingCommits.isEmpty()) return;
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>(pendingCommits);
        pendingCommits.clear();
        offsets.keySet().retainAll(consumer.assignment());
        if (offsets.isEmpty()) return;
        try {
            consumer.commitSync(offsets);
        } catch (KafkaException e) {
            if (e instanceof WakeupException) throw e;
            LOG.warn("worker {}: commit of {} failed ({}); the records will be seen again and skipped",
                    config.clientId(), offsets, e.toString());
        }
    }

    private void commit(TopicPartition tp, long offset) {
        OffsetAndMetadata pending = pendingCommits.remove(tp);
        if (pending != null && pending.offset() > offset) offset = pending.offset();
        try {
            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(offset)));
        } catch (KafkaException e) {
            if (e instanceof WakeupException) throw e;
            LOG.warn("worker {}: commit of {}@{} failed ({}); a redelivery will find the job finished",
                    config.clientId(), tp, offset, e.toString());
        }
    }

    /**
     * Stops the jobs of partitions this replica is losing: asks them to stop, waits up to stopGrace,
     * commits those that reached a terminal state meanwhile, abandons the rest for the next owner.
     */
    private void giveUp(Collection<TopicPartition> partitions) {
        List<Run> runs = partitions.stream().map(running::get).filter(r -> r != null).toList();
        if (runs.isEmpty()) return;
        runs.forEach(r -> r.stopRequested = true);
        long deadline = System.nanoTime() + config.stopGrace().toNanos();
        for (Run r : runs) {
            try {
                r.done.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Run r : runs) {
            running.remove(r.tp, r);
            finished.remove(r);
            if (r.done.getCount() == 0 && r.terminalWritten) {
                commit(r.tp, r.offset + 1);
            } else {
                r.abandon();
                pendingCommits.remove(r.tp);
                LOG.info("worker {}: job {} left for the next owner of {} (last checkpoint {})", config.clientId(),
                        r.jobId, r.tp, r.status.checkpoint());
            }
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (crashing) return;
            giveUp(partitions);
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata o = pendingCommits.remove(tp);
                if (o != null) offsets.put(tp, o);
            }
            if (!offsets.isEmpty()) {
                try {
                    consumer.commitSync(offsets);
                } catch (KafkaException e) {
                    LOG.warn("worker {}: commit on revocation failed: {}", config.clientId(), e.toString());
                }
            }
            assignment.removeAll(partitions);
            if (!partitions.isEmpty()) LOG.info("worker {}: revoked {}", config.clientId(), partitions);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            // Another replica may own them already: stop at once, write nothing, commit nothing.
            for (TopicPartition tp : partitions) {
                Run r = running.remove(tp);
                if (r != null) r.abandon();
                pendingCommits.remove(tp);
            }
            assignment.removeAll(partitions);
            if (!partitions.isEmpty()) LOG.warn("worker {}: lost {}", config.clientId(), partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assignment.addAll(partitions);
            if (!partitions.isEmpty()) LOG.info("worker {}: assigned {}", config.clientId(), partitions);
        }
    }

    // ---------------------------------------------------------------- one record

    private Decision handle(ConsumerRecord<String, String> record) {
        Context parent = TracedProducer.extract(otel, record.headers());
        String value = record.value();
        if (value == null || value.isBlank()) return deadLetter(record, parent, "empty value", List.of());
        Class<JobRequest> type = handler.requestType();
        JobRequest request;
        try {
            request = ContractsJson.read(value, type);
        } catch (JsonProcessingException e) {
            FieldError error = describe(e);
            String reason = error.field().isEmpty()
                    ? "unparseable JSON: " + error.message()
                    : "invalid " + type.getSimpleName() + ": " + error;
            String jobId = error.field().isEmpty() ? null : jobIdOf(value);
            if (jobId != null && !failInvalid(jobId, reason, parent)) return Decision.RETRY;
            return deadLetter(record, parent, reason, error.field().isEmpty() ? List.of() : List.of(error));
        }
        if (request == null) return deadLetter(record, parent, "JSON null is not a " + type.getSimpleName(), List.of());
        List<FieldError> errors = request.validate();
        if (!errors.isEmpty()) {
            String reason = "invalid " + type.getSimpleName() + ": "
                    + errors.stream().map(FieldError::toString).collect(Collectors.joining("; "));
            if (request.jobId() != null && !request.jobId().isBlank() && !failInvalid(request.jobId(), reason, parent)) {
                return Decision.RETRY;
            }
            return deadLetter(record, parent, reason, errors);
        }
        if (record.key() != null && !record.key().equals(request.jobId())) {
            LOG.warn("worker {}: request for job {} keyed '{}'; key requests by job id so that duplicates share a partition",
                    config.clientId(), request.jobId(), record.key());
        }
        return startJob(record, request, parent);
    }

    private Decision startJob(ConsumerRecord<String, String> record, JobRequest request, Context parent) {
        String jobId = request.jobId();
        Optional<JobStatus> known = store.get(jobId);
        if (known.isPresent() && known.get().state().isTerminal()) return skipFinished(known.get(), record);
        try {
            store.sync(WRITE_TIMEOUT); // see every status acknowledged so far, e.g. by a replica that died after finishing
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.warn("worker {}: job store not in sync ({}); will retry", config.clientId(), e.getMessage());
            return Decision.RETRY;
        }
        JobStatus previous = store.get(jobId).orElse(null);
        if (previous != null && previous.state().isTerminal()) return skipFinished(previous, record);
        if (running.values().stream().anyMatch(r -> r.jobId.equals(jobId))) {
            LOG.info("worker {}: job {} is already running here; duplicate request skipped", config.clientId(), jobId);
            return Decision.DONE;
        }
        if (leftBehind.stream().anyMatch(r -> r.jobId.equals(jobId))) {
            LOG.info("worker {}: job {} was given up here and has not stopped yet; it starts again once it has",
                    config.clientId(), jobId);
            return Decision.RETRY;
        }
        TopicPartition tp = new TopicPartition(record.topic(), record.partition());
        Span span = tracer.spanBuilder(record.topic() + " process")
                .setParent(parent)
                .setSpanKind(SpanKind.CONSUMER)
                .setAttribute(TracedProducer.MESSAGING_SYSTEM, "kafka")
                .setAttribute(TracedProducer.DESTINATION, record.topic())
                .setAttribute(TracedProducer.OPERATION, "process")
                .setAttribute(JOB_ID, jobId)
                .startSpan();
        Context jobContext = parent.with(span);
        Instant now = Instant.now();
        try {
            JobStatus base = previous != null ? previous : JobStatus.queued(jobId, handler.kind(), now);
            if (store.isCancelRequested(jobId)) {
                String reason = store.cancelRequest(jobId).map(c -> c.reason()).orElse(null);
                JobStatus cancelled = base.withState(JobState.CANCELLED, now).withAttempt(base.attempt(), config.clientId(), now)
                        .withError(cancelMessage(reason), now);
                writeStatus(cancelled, jobContext).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                endSpan(span, JobState.CANCELLED, null);
                LOG.info("worker {}: job {} was cancelled before it started", config.clientId(), jobId);
                return Decision.DONE;
            }
            if (previous != null && previous.state() == JobState.RUNNING && previous.attempt() >= config.maxAttempts()) {
                String error = "gave up after " + previous.attempt() + " attempts: the worker running it was lost each time";
                JobStatus failed = base.withState(JobState.FAILED, now).withAttempt(base.attempt(), config.clientId(), now)
                        .withError(error, now);
                writeStatus(failed, jobContext).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                endSpan(span, JobState.FAILED, error);
                return Decision.DONE;
            }
            if (previous == null) writeStatus(base, jobContext).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            int attempt = base.attempt() + 1;
            JobStatus runningStatus = base.withState(JobState.RUNNING, now).withAttempt(attempt, config.clientId(), now)
                    .withError(null, now);
            writeStatus(runningStatus, jobContext).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            span.setAttribute(JOB_ATTEMPT, (long) attempt);
            Run run = new Run(tp, record.offset(), request, runningStatus, jobContext, span,
                    previous == null ? null : previous.checkpoint());
            running.put(tp, run);
            run.event(JobEvent.STATE, Map.of("state", JobState.RUNNING.name(), "attempt", attempt));
            LOG.info("worker {}: job {} attempt {} started from {}-{}@{}{}", config.clientId(), jobId, attempt,
                    tp.topic(), tp.partition(), record.offset(),
                    run.lastCheckpoint == null ? "" : ", resuming from " + run.lastCheckpoint);
            runners.execute(run);
            return Decision.STARTED;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            endSpan(span, null, e.toString());
            LOG.warn("worker {}: cannot start job {}: {}; will retry", config.clientId(), jobId, e.toString());
            return Decision.RETRY;
        }
    }

    private Decision skipFinished(JobStatus status, ConsumerRecord<String, String> record) {
        LOG.info("worker {}: job {} already {}; request at {}-{}@{} skipped", config.clientId(), status.jobId(),
                status.state(), record.topic(), record.partition(), record.offset());
        return Decision.DONE;
    }

    /** An invalid request that names a job: the job ends FAILED with the field errors, unless it already has a status. */
    private boolean failInvalid(String jobId, String reason, Context parent) {
        try {
            if (store.get(jobId).isPresent()) return true;
            store.sync(WRITE_TIMEOUT);
            if (store.get(jobId).isPresent()) return true;
            Instant now = Instant.now();
            JobStatus failed = JobStatus.queued(jobId, handler.kind(), now).withState(JobState.FAILED, now)
                    .withAttempt(0, config.clientId(), now).withError(truncate(reason), now);
            writeStatus(failed, parent).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            LOG.warn("worker {}: cannot record invalid job {}: {}", config.clientId(), jobId, e.toString());
            return false;
        }
    }

    private Decision deadLetter(ConsumerRecord<String, String> record, Context parent, String reason, List<FieldError> errors) {
        DeadLetter letter = new DeadLetter(truncate(reason), errors, record.topic(), record.partition(), record.offset(),
                record.key(), record.value(), Instant.now(), SchemaVersion.CURRENT);
        try {
            traced.send(Topics.DLQ, record.key(), letter, parent).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            LOG.warn("worker {}: {}-{}@{} dead-lettered: {}", config.clientId(), record.topic(), record.partition(),
                    record.offset(), letter.reason());
            return Decision.DONE;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            LOG.warn("worker {}: cannot write dead letter: {}; will retry", config.clientId(), e.toString());
            return Decision.RETRY;
        }
    }

    /** The {@code job_id} of a JSON object that did not map onto the request type, when it has a usable one. */
    private static String jobIdOf(String json) {
        try {
            var id = ContractsJson.mapper().readTree(json).path("job_id");
            return id.isTextual() && !id.asText().isBlank() ? id.asText() : null;
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /** A Jackson failure as one field error: the JSON path (empty when the text is not JSON) and a short message. */
    static FieldError describe(JsonProcessingException e) {
        String message = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        int newline = message.indexOf('\n');
        if (newline > 0) message = message.substring(0, newline);
        if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            StringBuilder path = new StringBuilder();
            for (JsonMappingException.Reference ref : m.getPath()) {
                if (ref.getFieldName() != null) {
                    if (path.length() > 0) path.append('.');
                    path.append(ref.getFieldName());
                } else if (ref.getIndex() >= 0) {
                    path.append('[').append(ref.getIndex()).append(']');
                }
            }
            return new FieldError(path.toString(), truncate(message));
        }
        if (e instanceof JsonMappingException) return new FieldError("$", truncate(message)); // JSON, wrong shape
        return new FieldError("", truncate(message));
    }

    private CompletableFuture<RecordMetadata> writeStatus(JobStatus status, Context context) {
        return sendRaw(Topics.JOBS, status.jobId(), ContractsJson.write(status), context);
    }

    /** Statuses and events, through {@link #sender}: trace context in the headers, but no span of their own (there are many). */
    private CompletableFuture<RecordMetadata> sendRaw(String topic, String key, String json, Context context) {
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, key, json);
        TracedProducer.inject(otel, context, record.headers());
        CompletableFuture<RecordMetadata> result = new CompletableFuture<>();
        try {
            sender.execute(() -> {
                try {
                    producer.send(record, (metadata, error) -> {
                        if (error != null) result.completeExceptionally(error);
                        else result.complete(metadata);
                    });
                } catch (RuntimeException e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    private static void endSpan(Span span, JobState state, String error) {
        if (state != null) span.setAttribute(JOB_STATE, state.name());
        if (error != null) span.setStatus(StatusCode.ERROR, error);
        span.end();
    }

    private static String cancelMessage(String reason) {
        return reason == null || reason.isBlank() ? "cancelled" : "cancelled: " + reason;
    }

    static String truncate(String s) {
        return s == null || s.length() <= MAX_REASON ? s : s.substring(0, MAX_REASON) + "...";
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- one running job

    private final class Run implements Runnable, JobContext<JobRequest> {
        final TopicPartition tp;
        final long offset;
        final JobRequest request;
        final String jobId;
        final int attempt;
        final String lastCheckpoint;
        final Context jobContext;
        final Span span;
        final AtomicLong seq = new AtomicLong();
        final CountDownLatch done = new CountDownLatch(1);
        volatile JobStatus status;
        volatile boolean stopRequested;
        volatile boolean abandoned;
        volatile boolean terminalWritten;
        volatile Thread thread;
        long lastStatusWrite = System.nanoTime();
        String lastMarker;
        CompletableFuture<RecordMetadata> lastMarkerWrite;

        Run(TopicPartition tp, long offset, JobRequest request, JobStatus status, Context jobContext, Span span,
            String lastCheckpoint) {
            this.tp = tp;
            this.offset = offset;
            this.request = request;
            this.jobId = request.jobId();
            this.attempt = status.attempt();
            this.status = status;
            this.jobContext = jobContext;
            this.span = span;
            this.lastCheckpoint = lastCheckpoint;
        }

        @Override
        public void run() {
            thread = Thread.currentThread();
            JobState outcome;
            String error = null;
            JobResult result = null;
            try (Scope ignored = jobContext.makeCurrent()) {
                if (abandoned) throw new InterruptedException("abandoned before start");
                result = handler.run(this);
                if (stopRequested || abandoned) outcome = null;
                else if (store.isCancelRequested(jobId)) outcome = JobState.CANCELLED;
                else outcome = JobState.SUCCEEDED;
            } catch (Throwable t) {
                if (stopRequested || abandoned) {
                    outcome = null;
                } else if (store.isCancelRequested(jobId)) {
                    outcome = JobState.CANCELLED;
                } else {
                    outcome = JobState.FAILED;
                    error = t.getMessage() == null || t.getMessage().isBlank() ? t.getClass().getSimpleName() : t.getMessage();
                    LOG.warn("job {} failed", jobId, t);
                }
            }
            Thread.interrupted(); // a stop may have interrupted us; the status write must not be
            if (outcome == JobState.CANCELLED) {
                error = cancelMessage(store.cancelRequest(jobId).map(c -> c.reason()).orElse(null));
            }
            if (outcome != null) writeTerminal(outcome, error, result);
            endSpan(span, outcome, outcome == JobState.FAILED ? error : null);
            thread = null;
            done.countDown();
            leftBehind.remove(this); // after done: abandon() adds only runs not done yet
            finished.add(this);
        }

        private void writeTerminal(JobState outcome, String error, JobResult result) {
            while (!abandoned) {
                synchronized (this) {
                    if (abandoned) return;
                    Instant now = Instant.now();
                    JobStatus s = status.withState(outcome, now).withError(truncate(error), now);
                    if (result != null) s = s.withProgress(s.progress(), result.metrics(), now).withResult(result.outputs(), now);
                    try {
                        writeStatus(s, jobContext).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                        status = s;
                        terminalWritten = true;
                        event(JobEvent.STATE, error == null ? Map.of("state", outcome.name())
                                : Map.of("state", outcome.name(), "error", s.error()));
                        LOG.info("worker {}: job {} {}{}", config.clientId(), jobId, outcome, error == null ? "" : ": " + error);
                        return;
                    } catch (Exception e) {
                        LOG.warn("worker {}: cannot write the final status of job {} ({}); retrying", config.clientId(),
                                jobId, e.toString());
                    }
                }
                sleepQuietly(1000);
            }
        }

        /** From now on the job publishes nothing; its thread is interrupted. */
        void abandon() {
            stopRequested = true;
            synchronized (this) {
                abandoned = true;
            }
            if (done.getCount() > 0) leftBehind.add(this);
            if (done.getCount() == 0) leftBehind.remove(this); // it returned meanwhile
            Thread t = thread;
            if (t != null) t.interrupt();
        }

        @Override public String jobId() { return jobId; }
        @Override public JobRequest request() { return request; }
        @Override public int attempt() { return attempt; }
        @Override public Optional<String> lastCheckpoint() { return Optional.ofNullable(lastCheckpoint); }

        @Override
        public boolean isCancelled() {
            return stopRequested || abandoned || store.isCancelRequested(jobId);
        }

        @Override
        public void checkpoint(String marker) {
            synchronized (this) {
                if (abandoned) return;
                throwIfMarkerLost();
                JobStatus s = status.withCheckpoint(marker, Instant.now());
                // Not awaited: while the broker is away the producer retries and training goes on.
                lastMarker = marker;
                lastMarkerWrite = writeStatus(s, currentContext());
                status = s;
                lastStatusWrite = System.nanoTime();
            }
            event(JobEvent.CHECKPOINT, Map.of("marker", marker));
        }

        /** The previous marker could not be written within the outage budget: the broker is gone for good. */
        private void throwIfMarkerLost() {
            if (lastMarkerWrite == null || !lastMarkerWrite.isCompletedExceptionally()) return;
            Throwable cause = lastMarkerWrite.handle((ok, e) -> e).join();
            throw new IllegalStateException("cannot record checkpoint " + lastMarker + " within the outage budget of "
                    + config.outageBudget() + ": " + cause, cause);
        }

        @Override
        public void progress(double fraction, Map<String, Object> metrics) {
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("progress", fraction);
            if (metrics != null) data.putAll(metrics);
            synchronized (this) {
                if (abandoned) return;
                status = status.withProgress(fraction, metrics, Instant.now());
                long now = System.nanoTime();
                if (now - lastStatusWrite >= config.statusInterval().toNanos()) {
                    lastStatusWrite = now;
                    writeStatus(status, currentContext());
                }
            }
            event(JobEvent.PROGRESS, data);
        }

        @Override
        public void event(String type, Map<String, Object> data) {
            synchronized (this) {
                if (abandoned) return;
                JobEvent event = new JobEvent(jobId, attempt, seq.incrementAndGet(), type, Instant.now(), data,
                        SchemaVersion.CURRENT);
                sendRaw(Topics.JOB_EVENTS, jobId, ContractsJson.write(event), currentContext());
            }
        }

        @Override
        public CompletableFuture<RecordMetadata> publish(String topic, String key, Object value) {
            if (abandoned) {
                return CompletableFuture.failedFuture(new IllegalStateException("job " + jobId + " was given up by this worker"));
            }
            return traced.send(topic, key, value, currentContext());
        }

        /** The handler's own span when it made one current, else the job's span. */
        private Context currentContext() {
            return Span.current().getSpanContext().isValid() ? Context.current() : jobContext;
        }
    }
}
