package dev.forgeline.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.forgeline.contracts.FieldChecks;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobRequest;

import java.util.List;

/** A small request for runtime tests: {@code steps} units of work, an optional payload. */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
record TestRequest(String jobId, int schemaVersion, List<String> then, Integer steps, String payload) implements JobRequest {
    TestRequest {
        if (schemaVersion == 0) schemaVersion = 1;
        then = then == null ? List.of() : then;
        if (steps == null) steps = 1;
    }

    static TestRequest of(String jobId, int steps) {
        return new TestRequest(jobId, 1, null, steps, null);
    }

    @Override
    public List<FieldError> validate() {
        return new FieldChecks().required("job_id", jobId).atLeast("steps", steps, 0).errors();
    }
}
