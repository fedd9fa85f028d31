package dev.forgeline.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.kafka.EmbeddedKafka;
import dev.forgeline.kafka.TopicRecords;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI against a real broker: what it prints and the exit codes it returns, from records the
 * test writes on the topics the services would write.
 */
class ForgeCliTest {
    private static EmbeddedKafka broker;
    private static Path dir;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("forge-cli-test");
        broker = EmbeddedKafka.start(dir.resolve("kafka"));
    }

    @AfterAll
    static void stop() {
        if (broker != null) broker.close();
    }

    /** Output, error output and exit code of one command. */
    record Run(int code, String out, String err) {}

    private static Run forge(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Forge.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] all = new String[args.length + 1];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--bootstrap=" + broker.bootstrapServers();
        int code = cl.execute(all);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void publishValidatesFirstAndNamesEveryBadField() throws Exception {
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"job_id\":\"cli-bad\",\"base_model\":\"stories260k\",\"lora\":{\"r\":0},\"epochs\":-1}");
        Run r = forge("publish", "train", bad.toString());
        assertEquals(Exit.USAGE, r.code(), r.err());
        assertTrue(r.err().contains("dataset: required") && r.err().contains("lora.r") && r.err().contains("epochs"), r.err());

        Path typo = dir.resolve("typo.json");
        Files.writeString(typo, "{\"job_id\":\"cli-typo\",\"max_steps\":\"many\"}");
        Run t = forge("publish", "forge.training.requests", typo.toString());
        assertEquals(Exit.USAGE, t.code());
        assertTrue(t.err().contains("max_steps"), t.err());

        assertEquals(Exit.USAGE, forge("publish", "forge.nope", bad.toString()).code());
        assertEquals(Exit.NOT_FOUND, forge("publish", "train", dir.resolve("missing.json").toString()).code());

        String id = "cli-good-" + System.nanoTime();
        Path good = dir.resolve("good.json");
        Files.writeString(good, ContractsJson.write(TrainingRequest.builder(id).baseModel("stories260k").dataset("ds-1").build()));
        Run ok = forge("publish", "train", good.toString());
        assertEquals(Exit.OK, ok.code(), ok.err());
        TrainingRequest sent = TopicRecords.await(broker.bootstrapServers(), Topics.TRAINING_REQUESTS, id, TrainingRequest.class,
                x -> true, Duration.ofSeconds(30));
        assertNotNull(sent, "the request is on " + Topics.TRAINING_REQUESTS);
        assertEquals("ds-1", sent.dataset());

        Path rs = dir.resolve("rs.json");
        Files.writeString(rs, "{\"job_id\":\"cli-rs\",\"prompts\":\"p.jsonl\",\"policy\":{\"model\":\"stories260k\"},"
                + "\"num_samples\":0,\"scorer\":{\"type\":\"regex\"}}");
        Run sampling = forge("publish", "rejection-sampling", rs.toString());
        assertEquals(Exit.USAGE, sampling.code(), sampling.err());
        assertTrue(sampling.err().contains(Topics.REJECTION_SAMPLING_REQUESTS) && sampling.err().contains("num_samples")
                && sampling.err().contains("scorer.pattern"), sampling.err());
    }

    @Test
    void jobsModelsAndOneJobFromTheTopics() throws Exception {
        String id = "cli-list-" + System.nanoTime();
        Instant t = Instant.now().minusSeconds(90);
        JobStatus done = JobStatus.queued(id, "train", t).withState(JobState.SUCCEEDED, t.plusSeconds(30))
                .withResult(Map.of("model_id", "ft-" + id), t.plusSeconds(30));
        TopicRecords.send(broker.bootstrapServers(), Topics.JOBS, id, done);
        TopicRecords.send(broker.bootstrapServers(), Topics.MODELS, "ft-" + id, new ModelCard("ft-" + id, "stories260k", "ds-9",
                null, "lora", null, "file:/m", null, Map.of("gate", "passed"), ModelCard.Status.APPROVED, "stories260k", id, t, 0));

        Run jobs = forge("jobs", "-n", "0");
        assertEquals(Exit.OK, jobs.code(), jobs.err());
        String line = jobs.out().lines().filter(l -> l.startsWith(id + " ")).findFirst().orElseThrow(() -> new AssertionError(jobs.out()));
        assertTrue(line.matches(id + "\\s+train\\s+SUCCEEDED\\s+100%\\s+1m3\\ds\\s+model_id=ft-" + id), line);

        JsonNode json = ContractsJson.mapper().readTree(forge("jobs", "--json", "--kind", "train", "-n", "0").out());
        assertTrue(json.isArray());
        assertTrue(json.findValuesAsText("job_id").contains(id));

        Run models = forge("models");
        assertTrue(models.out().lines().anyMatch(l -> l.startsWith("ft-" + id) && l.contains("approved") && l.contains("passed")
                && l.contains("stories260k + ds-9 -> lora (job " + id + ")")), models.out());

        String average = "ft-" + id + "-average";
        TopicRecords.send(broker.bootstrapServers(), Topics.MODELS, average, new ModelCard(average, "stories260k", null,
                null, "average", null, "file:/avg", null, null, null, "ft-" + id,
                List.of(new WeightedModel("ft-" + id, 1.0 / 3), new WeightedModel("ft-" + id + "-dpo", 2.0 / 3)),
                id + "-average", t, 0));
        Run one = forge("models", average);
        assertEquals(Exit.OK, one.code(), one.err());
        assertTrue(one.out().contains("stories260k -> average of 0.333 ft-" + id + " + 0.667 ft-" + id + "-dpo (job "
                + id + "-average)"), one.out());
        // Its ancestry, nearest first: both parents (one not on the registry), then what the first was made from.
        String made = one.out().substring(one.out().indexOf("made from:"));
        assertEquals(List.of("made from:", "  ft-" + id + "  stories260k + ds-9 -> lora (job " + id + ")",
                "  ft-" + id + "-dpo  (not on forge.models)", "  stories260k  (not on forge.models)"),
                made.lines().toList(), one.out());

        assertEquals(Exit.OK, forge("job", id).code());
        assertEquals(Exit.NOT_FOUND, forge("job", "no-such-" + id).code());
        assertEquals(Exit.NOT_FOUND, forge("models", "no-such-" + id).code());
    }

    @Test
    void followPrintsEventsAsTheyArriveAndExitsByTheFinalState() throws Exception {
        String id = "cli-follow-" + System.nanoTime();
        Instant t = Instant.now();
        String bootstrap = broker.bootstrapServers();
        TopicRecords.send(bootstrap, Topics.JOBS, id, JobStatus.queued(id, "train", t).withState(JobState.RUNNING, t));
        CompletableFuture<Run> follow = CompletableFuture.supplyAsync(() -> forge("job", id, "--follow"));
        TimeUnit.SECONDS.sleep(2);
        for (int step = 10; step <= 30; step += 10) {
            TopicRecords.send(bootstrap, Topics.JOB_EVENTS, id, new JobEvent(id, 1, step, JobEvent.PROGRESS, Instant.now(),
                    Map.of("progress", step / 30.0, "step", step, "total_steps", 30, "loss", 3.0 - step / 10.0, "eta_s", 30 - step), 0));
        }
        TopicRecords.send(bootstrap, Topics.JOB_EVENTS, id, new JobEvent(id, 1, 31, JobEvent.CHECKPOINT, Instant.now(),
                Map.of("marker", "step-30"), 0));
        TopicRecords.send(bootstrap, Topics.JOBS, id, JobStatus.queued(id, "train", t).withState(JobState.FAILED, Instant.now())
                .withError("out of memory", Instant.now()));
        Run r = follow.get(60, TimeUnit.SECONDS);
        assertEquals(Exit.FAILED, r.code(), "a failed job is exit 1: " + r.out() + r.err());
        assertTrue(r.out().contains("step 10/30") && r.out().contains("loss 2.0000"), "the first progress event, printed: " + r.out());
        assertTrue(r.out().contains("checkpoint step-30"), r.out());
        assertTrue(r.out().contains("train " + id + " FAILED") && r.out().contains("out of memory"), r.out());

        String ok = id + "-ok";
        TopicRecords.send(bootstrap, Topics.JOBS, ok, JobStatus.queued(ok, "eval", t).withState(JobState.SUCCEEDED, Instant.now()));
        assertEquals(Exit.OK, forge("job", ok, "--follow").code());
    }

    @Test
    void evalPublishesAMeasurementAndFollowsIt() throws Exception {
        String id = "cli-eval-" + System.nanoTime();
        CompletableFuture<Run> eval = CompletableFuture.supplyAsync(() ->
                forge("eval", "ft-x", "--mmlu", dir.toString(), "--shots", "3", "--subjects", "astronomy,anatomy", "--base", "stories260k", "--id", id));
        EvalRequest sent = TopicRecords.await(broker.bootstrapServers(), Topics.EVAL_REQUESTS, id, EvalRequest.class, x -> true,
                Duration.ofSeconds(30));
        assertNotNull(sent, "the request is on " + Topics.EVAL_REQUESTS);
        assertEquals(dir.toAbsolutePath().toString(), sent.dataset());
        assertEquals(3, sent.numFewshot());
        assertEquals(List.of("astronomy", "anatomy"), sent.subjects());
        assertEquals(1.0, sent.gate().maxAccuracyDrop(), "without --gate every model passes: the card does not change");
        assertEquals(false, sent.gate().heldOutMustBeatBase());
        TopicRecords.send(broker.bootstrapServers(), Topics.JOBS, id, JobStatus.queued(id, "eval", Instant.now())
                .withState(JobState.SUCCEEDED, Instant.now()).withResult(Map.of("accuracy", 0.25), Instant.now()));
        Run r = eval.get(60, TimeUnit.SECONDS);
        assertEquals(Exit.OK, r.code(), r.err());
        assertTrue(r.out().contains("eval " + id + " SUCCEEDED") && r.out().contains("accuracy=0.2500"), r.out());
    }

    @Test
    void cancelPublishesACancelUnlessTheJobEnded() throws Exception {
        String id = "cli-cancel-" + System.nanoTime();
        Run r = forge("cancel", id);
        assertEquals(Exit.OK, r.code(), r.err());
        JobCancel cancel = TopicRecords.await(broker.bootstrapServers(), Topics.JOB_CANCELS, id, JobCancel.class, x -> true,
                Duration.ofSeconds(30));
        assertNotNull(cancel);
        assertEquals(id, cancel.jobId());

        String ended = id + "-ended";
        TopicRecords.send(broker.bootstrapServers(), Topics.JOBS, ended,
                JobStatus.queued(ended, "train", Instant.now()).withState(JobState.SUCCEEDED, Instant.now()));
        Run e = forge("cancel", ended);
        assertTrue(e.out().contains("already ended"), e.out());
    }

    @Test
    void noBrokerIsExitThreeWithoutWaiting() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        StringWriter err = new StringWriter();
        CommandLine cl = Forge.commandLine();
        cl.setErr(new PrintWriter(err, true));
        long start = System.nanoTime();
        int code = cl.execute("jobs", "--bootstrap=127.0.0.1:" + port);
        assertEquals(Exit.UNREACHABLE, code);
        assertTrue(err.toString().contains("no Kafka broker at 127.0.0.1:" + port), err.toString());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "a clear answer at once");
    }

    @Test
    void barAndSparkline() {
        assertEquals("[█████░░░░░]", Style.bar(0.5, 10));
        assertEquals("▁▅█", Style.sparkline(List.of(1.0, 2.0, 3.0), 10));
        assertEquals("▁█", Style.sparkline(List.of(9.0, 2.0, 3.0), 2), "the last values only");
        assertEquals("1m05s", Style.duration(Duration.ofSeconds(65)));
    }
}
