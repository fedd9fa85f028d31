package dev.forgeline.datagen;

import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.forgeline.service.WorkerServiceTest;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;

@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(DatagenTestResource.class)
class DatagenServiceTest extends WorkerServiceTest {
    @Override
    protected String requestTopic() {
        return Topics.DATAGEN_REQUESTS;
    }

    @Override
    protected JobRequest request(String jobId) {
        return DatagenRequest.builder(jobId).source(new DatagenRequest.Source("uploads/missing.jsonl", DatagenRequest.Format.ALPACA))
                .build();
    }

    @Override
    protected String expectedError() {
        return "source file 'uploads/missing.jsonl' not found";
    }
}
