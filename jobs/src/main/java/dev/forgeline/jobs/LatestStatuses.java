package dev.forgeline.jobs;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.JobStatus;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** The latest {@link JobStatus} per job from {@code forge.jobs} records, and who wants each one: what {@link JobStore} and {@link PlatformView} both keep. */
final class LatestStatuses {
    private final Map<String, JobStatus> statuses = new ConcurrentHashMap<>();
    private final List<Consumer<JobStatus>> listeners = new CopyOnWriteArrayList<>();

    /** A record of {@code forge.jobs}; a tombstone forgets the job. */
    void apply(ConsumerRecord<String, String> r) throws Exception {
        if (r.key() == null) return;
        if (r.value() == null) {
            statuses.remove(r.key());
            return;
        }
        JobStatus status = ContractsJson.read(r.value(), JobStatus.class);
        statuses.put(r.key(), status);
        for (Consumer<JobStatus> l : listeners) l.accept(status);
    }

    Optional<JobStatus> get(String jobId) {
        return Optional.ofNullable(statuses.get(jobId));
    }

    Collection<JobStatus> all() {
        return statuses.values();
    }

    void onStatus(Consumer<JobStatus> listener) {
        listeners.add(listener);
    }
}
