package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;
import java.util.List;

/**
 * Asks for a job to stop: the value on {@link Topics#JOB_CANCELS} (compacted, keyed by job id).
 * A running job ends CANCELLED at its handler's next check; a job not started yet ends CANCELLED
 * without running; a finished job is not affected.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobCancel(String jobId, String reason, Instant requestedAt, int schemaVersion) {
    public JobCancel {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
    }

    public static JobCancel of(String jobId, String reason) {
        return new JobCancel(jobId, reason, Instant.now(), SchemaVersion.CURRENT);
    }

    public List<FieldError> validate() {
        return new FieldChecks().required("job_id", jobId).supportedSchema(schemaVersion).errors();
    }
}
