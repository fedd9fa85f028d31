package dev.forgeline.datagen;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import jakarta.enterprise.context.ApplicationScoped;

/** Handles {@code datagen} jobs from {@link Topics#DATAGEN_REQUESTS}; the capability is not built yet, so each job ends FAILED. */
@ApplicationScoped
public class DatagenHandler implements JobHandler<DatagenRequest> {
    static final String NOT_BUILT = "dataset generation is not built yet";

    @Override
    public String kind() {
        return "datagen";
    }

    @Override
    public String requestTopic() {
        return Topics.DATAGEN_REQUESTS;
    }

    @Override
    public Class<DatagenRequest> requestType() {
        return DatagenRequest.class;
    }

    @Override
    public JobResult run(JobContext<DatagenRequest> ctx) {
        throw new UnsupportedOperationException(NOT_BUILT);
    }
}
