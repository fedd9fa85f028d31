package dev.forgeline.trainer;

import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.service.WorkerServiceTest;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;

@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class TrainerServiceTest extends WorkerServiceTest {
    @Override
    protected String requestTopic() {
        return Topics.TRAINING_REQUESTS;
    }

    @Override
    protected JobRequest request(String jobId) {
        return TrainingRequest.of(jobId, "stories260k", "solar-system");
    }

    @Override
    protected String notBuiltError() {
        return TrainingHandler.NOT_BUILT;
    }
}
