package dev.forgeline.eval;

import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.service.WorkerServiceTest;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;

@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class EvalServiceTest extends WorkerServiceTest {
    @Override
    protected String requestTopic() {
        return Topics.EVAL_REQUESTS;
    }

    @Override
    protected JobRequest request(String jobId) {
        return EvalRequest.of(jobId, "no-such-model", "mmlu");
    }

    @Override
    protected String expectedError() {
        return "model 'no-such-model' not found";
    }
}
