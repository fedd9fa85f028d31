package dev.forgeline.trainer;

import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import jakarta.enterprise.context.ApplicationScoped;

/** Handles {@code train} jobs from {@link Topics#TRAINING_REQUESTS}; the capability is not built yet, so each job ends FAILED. */
@ApplicationScoped
public class TrainingHandler implements JobHandler<TrainingRequest> {
    static final String NOT_BUILT = "training is not built yet (issue #4)";

    @Override
    public String kind() {
        return "train";
    }

    @Override
    public String requestTopic() {
        return Topics.TRAINING_REQUESTS;
    }

    @Override
    public Class<TrainingRequest> requestType() {
        return TrainingRequest.class;
    }

    @Override
    public JobResult run(JobContext<TrainingRequest> ctx) {
        throw new UnsupportedOperationException(NOT_BUILT);
    }
}
