package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The latest state of a job: the value on {@code forge.jobs} (compacted, keyed by job id).
 *
 * @param kind       datagen, train or eval
 * @param progress   0..1
 * @param metrics    the latest metrics the handler reported (loss, accuracy, examples made...)
 * @param result     what a finished job produced (model id, dataset id, artifact URIs...)
 * @param error      why the job FAILED or was CANCELLED; a message, never a stack trace
 * @param checkpoint the last durable checkpoint marker (e.g. {@code step-300}), the resume point of the next attempt
 * @param attempt    1 for the first run; each resume after a lost worker adds one
 * @param worker     client id of the worker that wrote this status
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobStatus(
        String jobId,
        String kind,
        JobState state,
        double progress,
        Map<String, Object> metrics,
        Map<String, Object> result,
        String error,
        String checkpoint,
        int attempt,
        String worker,
        Instant createdAt,
        Instant updatedAt,
        int schemaVersion) {

    public JobStatus {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        metrics = copy(metrics);
        result = copy(result);
    }

    public static JobStatus queued(String jobId, String kind, Instant now) {
        return new JobStatus(jobId, kind, JobState.QUEUED, 0, null, null, null, null, 0, null, now, now, SchemaVersion.CURRENT);
    }

    public JobStatus withState(JobState newState, Instant now) {
        return new JobStatus(jobId, kind, newState, newState == JobState.SUCCEEDED ? 1.0 : progress, metrics, result,
                error, checkpoint, attempt, worker, createdAt, now, schemaVersion);
    }

    public JobStatus withAttempt(int newAttempt, String newWorker, Instant now) {
        return new JobStatus(jobId, kind, state, progress, metrics, result, error, checkpoint, newAttempt, newWorker,
                createdAt, now, schemaVersion);
    }

    /** Metrics are merged: keys reported earlier and not reported now keep their last value. */
    public JobStatus withProgress(double newProgress, Map<String, Object> newMetrics, Instant now) {
        Map<String, Object> merged = new LinkedHashMap<>(metrics);
        if (newMetrics != null) merged.putAll(newMetrics);
        return new JobStatus(jobId, kind, state, Math.max(0, Math.min(1, newProgress)), merged, result, error,
                checkpoint, attempt, worker, createdAt, now, schemaVersion);
    }

    public JobStatus withCheckpoint(String marker, Instant now) {
        return new JobStatus(jobId, kind, state, progress, metrics, result, error, marker, attempt, worker,
                createdAt, now, schemaVersion);
    }

    public JobStatus withResult(Map<String, Object> newResult, Instant now) {
        return new JobStatus(jobId, kind, state, progress, metrics, newResult, error, checkpoint, attempt, worker,
                createdAt, now, schemaVersion);
    }

    public JobStatus withError(String message, Instant now) {
        return new JobStatus(jobId, kind, state, progress, metrics, result, message, checkpoint, attempt, worker,
                createdAt, now, schemaVersion);
    }

    private static Map<String, Object> copy(Map<String, Object> m) {
        return m == null || m.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
