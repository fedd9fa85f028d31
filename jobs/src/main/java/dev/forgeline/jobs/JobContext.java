package dev.forgeline.jobs;

import dev.forgeline.contracts.JobRequest;
import org.apache.kafka.clients.producer.RecordMetadata;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A running job as its handler sees it. Every method is thread-safe. Once the worker has given the
 * job up (its partition moved to another replica, the worker closed or crashed) the publishing
 * methods do nothing, so a late handler cannot overwrite the new owner's status.
 */
public interface JobContext<R extends JobRequest> {
    String jobId();

    R request();

    /** 1 for the first run, 2 for the first resume, and so on. */
    int attempt();

    /** The resume hook: the marker of the last {@link #checkpoint} any earlier attempt recorded, if any. */
    Optional<String> lastCheckpoint();

    /**
     * Records {@code marker} on {@code forge.jobs} as the point to resume from. Call it after the
     * checkpoint's data is safely in the artifact store. It does not wait for the broker, so a job keeps
     * going through a broker outage; when the previous marker could not be written within the worker's
     * outage budget it throws, and the job fails.
     */
    void checkpoint(String marker);

    /** Progress 0..1 and the latest metrics: a {@code progress} event, and the job's status (throttled). */
    void progress(double fraction, Map<String, Object> metrics);

    /** Appends an event of any type to {@code forge.job-events}, e.g. {@code event("eval", Map.of("loss", 1.2))}. */
    void event(String type, Map<String, Object> data);

    /**
     * True once the job should stop: a cancel was requested, or the worker is giving the job up
     * (rebalance, shutdown). Return or throw soon after; keep the last checkpoint.
     */
    boolean isCancelled();

    /**
     * Sends {@code value} as JSON to {@code topic} with the job's trace context in the headers, e.g.
     * the next step's request. Next-step job ids should be derived from this job's id so that a
     * resumed job that sends again yields one downstream job, not two. The future completes when the
     * broker acknowledges, or fails once the worker's outage budget has passed: wait on it without a
     * timeout of your own.
     */
    CompletableFuture<RecordMetadata> publish(String topic, String key, Object value);
}
