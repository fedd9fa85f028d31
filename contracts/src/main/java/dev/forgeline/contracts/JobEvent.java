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
 * One progress record on {@code forge.job-events} (append-only, keyed by job id). Events of one
 * job are ordered by (attempt, seq): seq restarts at 1 when another worker resumes the job.
 *
 * @param type what happened: {@link #PROGRESS}, {@link #CHECKPOINT}, {@link #STATE}, {@link #LOG} or a handler's own type
 * @param data e.g. {@code step}, {@code loss}, {@code lr}, {@code tokens_per_s}, {@code eta_s}
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobEvent(
        String jobId,
        int attempt,
        long seq,
        String type,
        Instant timestamp,
        Map<String, Object> data,
        int schemaVersion) {

    public static final String PROGRESS = "progress";
    public static final String CHECKPOINT = "checkpoint";
    public static final String STATE = "state";
    public static final String LOG = "log";

    public JobEvent {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        data = data == null || data.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(data));
    }
}
