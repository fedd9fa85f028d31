package dev.forgeline.contracts;

import java.util.List;

/**
 * A command that starts a job: the value on a request topic, keyed by {@link #jobId()}.
 * The job id makes handling idempotent: a request whose job already finished is not run again.
 */
public interface JobRequest {
    /** Required; also the Kafka record key. */
    String jobId();

    int schemaVersion();

    /**
     * The rest of the pipeline, run one step after another when this one succeeds, e.g.
     * {@code ["train", "eval", "deploy"]} on a datagen request. Empty when this is the last step.
     */
    List<String> then();

    /** The steps of {@link #then()} after {@code step}, the rest of the chain for the next job to carry. */
    default List<String> stepsAfter(String step) {
        List<String> steps = then();
        return steps.subList(steps.indexOf(step) + 1, steps.size());
    }

    /** Field-level problems, empty when the request is valid. Defaults are already filled in. */
    List<FieldError> validate();
}
