package dev.forgeline.jobs;

import dev.forgeline.contracts.JobRequest;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link JobContext} without Kafka, for running a handler in a unit test or a CLI: it keeps what
 * the handler reports in lists and lets the caller cancel.
 */
public final class LocalJobContext<R extends JobRequest> implements JobContext<R> {
    /** A message the handler published. */
    public record Published(String topic, String key, Object value) {}

    /** A progress report or an event. */
    public record Reported(String type, Map<String, Object> data) {}

    private final R request;
    private final int attempt;
    private volatile String lastCheckpoint;
    private volatile boolean cancelled;
    private final List<String> checkpoints = Collections.synchronizedList(new ArrayList<>());
    private final List<Reported> reports = Collections.synchronizedList(new ArrayList<>());
    private final List<Published> published = Collections.synchronizedList(new ArrayList<>());

    public LocalJobContext(R request) {
        this(request, 1, null);
    }

    /** A resumed run: {@code attempt} > 1 and the marker an earlier attempt recorded. */
    public LocalJobContext(R request, int attempt, String lastCheckpoint) {
        this.request = request;
        this.attempt = attempt;
        this.lastCheckpoint = lastCheckpoint;
    }

    public void cancel() {
        cancelled = true;
    }

    public List<String> checkpoints() {
        return List.copyOf(checkpoints);
    }

    public List<Reported> reports() {
        return List.copyOf(reports);
    }

    public List<Published> published() {
        return List.copyOf(published);
    }

    @Override public String jobId() { return request.jobId(); }
    @Override public R request() { return request; }
    @Override public int attempt() { return attempt; }
    @Override public Optional<String> lastCheckpoint() { return Optional.ofNullable(lastCheckpoint); }
    @Override public boolean isCancelled() { return cancelled; }

    @Override
    public void checkpoint(String marker) {
        checkpoints.add(marker);
        lastCheckpoint = marker;
    }

    @Override
    public void progress(double fraction, Map<String, Object> metrics) {
        Map<String, Object> data = new java.util.LinkedHashMap<>();
        data.put("progress", fraction);
        if (metrics != null) data.putAll(metrics);
        reports.add(new Reported(dev.forgeline.contracts.JobEvent.PROGRESS, data));
    }

    @Override
    public void event(String type, Map<String, Object> data) {
        reports.add(new Reported(type, data == null ? Map.of() : Map.copyOf(data)));
    }

    @Override
    public CompletableFuture<RecordMetadata> publish(String topic, String key, Object value) {
        published.add(new Published(topic, key, value));
        return CompletableFuture.completedFuture(new RecordMetadata(new TopicPartition(topic, 0), 0, 0, 0, 0, 0));
    }
}
