package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The latest {@link JobStatus} of every job and every requested {@link JobCancel}, kept by tailing
 * the compacted {@code forge.jobs} and {@code forge.job-cancels} topics from the beginning (no
 * consumer group: every replica reads everything).
 *
 * <p>A tail lags the log a little, so a decision that must see every write acknowledged so far
 * (is this job finished?) calls {@link #sync(Duration)} first.
 */
public final class JobStore implements AutoCloseable {
    private final LatestStatuses statuses = new LatestStatuses();
    private final Map<String, JobCancel> cancels = new ConcurrentHashMap<>();
    private final List<Consumer<JobCancel>> cancelListeners = new CopyOnWriteArrayList<>();
    private final TopicTail tail;

    private JobStore(String bootstrapServers, String clientId) {
        tail = new TopicTail(bootstrapServers, clientId + "-jobstore",
                Map.of(Topics.JOBS, statuses::apply, Topics.JOB_CANCELS, this::applyCancel));
    }

    /** Starts tailing and returns once everything already on the topics has been read. */
    public static JobStore start(String bootstrapServers, String clientId) {
        JobStore store = new JobStore(bootstrapServers, clientId);
        store.tail.start(Duration.ofSeconds(60));
        return store;
    }

    public Optional<JobStatus> get(String jobId) {
        return statuses.get(jobId);
    }

    public Collection<JobStatus> all() {
        return List.copyOf(statuses.all());
    }

    public boolean isCancelRequested(String jobId) {
        return cancels.containsKey(jobId);
    }

    public Optional<JobCancel> cancelRequest(String jobId) {
        return Optional.ofNullable(cancels.get(jobId));
    }

    /** Called on the tail thread for every status read, in log order per job. Keep it quick. */
    public void onStatus(Consumer<JobStatus> listener) {
        statuses.onStatus(listener);
    }

    public void onCancel(Consumer<JobCancel> listener) {
        cancelListeners.add(listener);
    }

    /** Waits until every record on the topics at the time of the call has been read. */
    public void sync(Duration timeout) throws TimeoutException {
        tail.sync(timeout);
    }

    public boolean isAlive() {
        return tail.isAlive();
    }

    @Override
    public void close() {
        tail.close();
    }

    private void applyCancel(ConsumerRecord<String, String> r) throws Exception {
        if (r.key() == null) return;
        if (r.value() == null) {
            cancels.remove(r.key());
            return;
        }
        JobCancel cancel = ContractsJson.read(r.value(), JobCancel.class);
        String jobId = cancel.jobId() != null ? cancel.jobId() : r.key();
        cancels.put(jobId, cancel);
        for (Consumer<JobCancel> l : cancelListeners) l.accept(cancel);
    }
}
