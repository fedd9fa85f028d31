package dev.forgeline.eval;

import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import jakarta.enterprise.context.ApplicationScoped;

/** Handles {@code eval} jobs from {@link Topics#EVAL_REQUESTS}; the capability is not built yet, so each job ends FAILED. */
@ApplicationScoped
public class EvalHandler implements JobHandler<EvalRequest> {
    static final String NOT_BUILT = "evaluation is not built yet";

    @Override
    public String kind() {
        return "eval";
    }

    @Override
    public String requestTopic() {
        return Topics.EVAL_REQUESTS;
    }

    @Override
    public Class<EvalRequest> requestType() {
        return EvalRequest.class;
    }

    @Override
    public JobResult run(JobContext<EvalRequest> ctx) {
        throw new UnsupportedOperationException(NOT_BUILT);
    }
}
