package dev.forgeline.trainer;

import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.EvalSettings;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One post-training round as one request's chain, on stories260k over the real broker: SFT (LoRA)
 * {@code then: [train]} DPO on the SFT model {@code then: [train]} the average of the two {@code then:
 * [eval, deploy]}. Each step publishes the next; the three models are registered with their lineage
 * and the eval request at the end names the averaged model.
 */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
@WithTestResource(TrainerTestResource.class)
class RoundOverKafkaTest {
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(90);
    private static JobTopics topics;

    @BeforeAll
    static void connect() {
        topics = new JobTopics(ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class));
    }

    @AfterAll
    static void close() {
        topics.close();
    }

    @Test
    void sftThenDpoThenAverageThenEval() throws Exception {
        Path chat = TinyTask.writeDataset(Files.createTempDirectory("forge-round-sft-"));
        Path prefs = TinyTask.writePreferences(Files.createTempDirectory("forge-round-dpo-"));
        EvalSettings eval = new EvalSettings("mmlu", List.of("astronomy"), 0, 5, null, null, null);
        String round = "round-" + UUID.randomUUID();
        TrainingRequest average = TrainingRequest.builder(null).method(TrainingRequest.Method.AVERAGE)
                .then(List.of("eval", "deploy")).eval(eval).build();
        TrainingRequest dpo = TrainingOverKafkaTest.quick(null).method(TrainingRequest.Method.DPO).learningRate(5e-3)
                .maxSteps(4).evalInterval(0).saveInterval(0).then(List.of("train")).train(average).build();
        TrainingRequest sft = TrainingOverKafkaTest.quick(round).baseModel(TinyTask.MODEL).dataset(chat.toUri().toString())
                .maxSteps(4).evalInterval(0).saveInterval(0).then(List.of("train")).train(dpo).build()
                .withDatasetWhereMissing(prefs.toUri().toString());
        topics.send(sft);

        String dpoJob = round + "-dpo";
        String averageJob = dpoJob + "-average";
        for (String job : List.of(round, dpoJob, averageJob)) {
            JobStatus s = topics.awaitTerminal(job, JOB_TIMEOUT);
            assertEquals(JobState.SUCCEEDED, s.state(), () -> job + ": " + s.error());
        }
        assertEquals(dpoJob, topics.awaitTerminal(round, JOB_TIMEOUT).result().get("train_job_id"));
        assertEquals(averageJob, topics.awaitTerminal(dpoJob, JOB_TIMEOUT).result().get("train_job_id"));
        assertEquals(averageJob + "-eval", topics.awaitTerminal(averageJob, JOB_TIMEOUT).result().get("eval_job_id"));

        String sftModel = "ft-" + round;
        String dpoModel = "ft-" + dpoJob;
        String averageModel = "ft-" + averageJob;
        ModelCard sftCard = topics.awaitModel(sftModel, Duration.ofSeconds(10)).orElseThrow();
        assertEquals("lora", sftCard.method());
        assertEquals(TinyTask.MODEL, sftCard.baseModel());
        ModelCard dpoCard = topics.awaitModel(dpoModel, Duration.ofSeconds(10)).orElseThrow();
        assertEquals("dpo", dpoCard.method());
        assertEquals(sftModel, dpoCard.baseModel(), "DPO trains on (and is referenced to) the SFT model");
        assertEquals(sftModel, dpoCard.parent());
        assertEquals(prefs.toUri().toString(), dpoCard.datasetId());
        ModelCard averageCard = topics.awaitModel(averageModel, Duration.ofSeconds(10)).orElseThrow();
        assertEquals("average", averageCard.method());
        assertEquals(List.of(new WeightedModel(sftModel, 0.5), new WeightedModel(dpoModel, 0.5)), averageCard.parents());
        assertEquals(TinyTask.MODEL, averageCard.baseModel(), "the base on the first parent's card");

        List<EvalRequest> evals = topics.records(Topics.EVAL_REQUESTS, averageJob + "-eval", EvalRequest.class);
        assertEquals(1, evals.size(), "one eval request: " + evals);
        EvalRequest next = evals.get(0);
        assertEquals(averageModel, next.model());
        assertEquals(TinyTask.MODEL, next.baseModel());
        assertEquals("mmlu", next.dataset());
        assertEquals(List.of("deploy"), next.then());
        assertEquals(List.of(), next.validate());
    }
}
