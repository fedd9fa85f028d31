package dev.forgeline.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.EvalSettings;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.files.FileCreateParams;
import com.openai.models.files.FileObject;
import com.openai.models.files.FilePurpose;
import com.openai.models.finetuning.jobs.FineTuningJob;
import com.openai.models.finetuning.jobs.FineTuningJobEvent;
import com.openai.models.finetuning.jobs.JobCreateParams;
import com.openai.models.finetuning.jobs.checkpoints.FineTuningJobCheckpoint;
import com.openai.models.finetuning.methods.DpoHyperparameters;
import com.openai.models.finetuning.methods.DpoMethod;
import dev.forgeline.engine.SharedData;
import dev.forgeline.kafka.EmbeddedKafka;
import dev.forgeline.kafka.TopicRecords;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.params.ParameterizedTest;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline over a real broker with the packaged services as processes. A dataset generated with
 * the gateway as its teacher starts a training job. Two training requests
 * on stories260k with {@code then: [eval, deploy]}. One's gate passes: its card ends
 * {@code approved} on {@code forge.models} and the gateway, started before it existed, answers a
 * chat completion with its id. The other's gate asks for an accuracy it cannot reach: its card
 * ends {@code rejected} and the gateway does not serve it. And the official OpenAI Java SDK runs a
 * fine-tuning job through the gateway's files and fine-tuning API, on the same services.
 */
class PipelineIT {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Duration TIMEOUT = Duration.ofSeconds(240);
    private static EmbeddedKafka broker;
    private static Path work;
    private static int gatewayPort;
    private static final List<Process> started = new ArrayList<>();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("forge-pipeline-it-");
        broker = EmbeddedKafka.start(work.resolve("kafka"));
        Path logs = Files.createDirectories(Path.of("target/pipeline-it"));
        try (ServerSocket s = new ServerSocket(0)) {
            gatewayPort = s.getLocalPort();
        }
        service("datagen-service", logs, 0);
        service("trainer-service", logs, 0);
        service("eval-service", logs, 0);
        service("gateway", logs, gatewayPort);
    }

    @AfterAll
    static void stop() {
        started.forEach(Process::destroyForcibly);
        if (broker != null) broker.close();
    }

    @Test
    void trainedModelIsEvaluatedApprovedAndServedAndAFailedGateIsNot() throws Exception {
        Path data = writeDataset(work.resolve("data"));
        String mmlu = SharedData.root().resolve("datasets/mmlu").toString();
        String passing = "pipeline-pass-" + System.currentTimeMillis();
        String failing = "pipeline-fail-" + System.currentTimeMillis();
        // A tolerant accuracy check (20 items of a 260K-parameter model are noise); held-out loss must beat the base.
        TopicRecords.send(broker.bootstrapServers(), Topics.TRAINING_REQUESTS, passing,
                training(passing, data, new EvalRequest.Gate(1.0, true, null, null)));
        TopicRecords.send(broker.bootstrapServers(), Topics.TRAINING_REQUESTS, failing,
                training(failing, data, new EvalRequest.Gate(1.0, true, 0.99, null)));

        ModelCard approved = awaitCard("ft-" + passing, c -> c.status() != ModelCard.Status.CANDIDATE);
        assertEquals(ModelCard.Status.APPROVED, approved.status(), () -> "card: " + approved.eval());
        assertEquals("passed", approved.eval().get("gate"));
        assertNotNull(approved.eval().get("accuracy"));
        assertNotNull(approved.eval().get("base_accuracy"));
        assertTrue(((Number) approved.eval().get("held_out_loss")).doubleValue()
                < ((Number) approved.eval().get("base_held_out_loss")).doubleValue(), "held-out loss beats the base");
        ModelCard rejected = awaitCard("ft-" + failing, c -> c.status() != ModelCard.Status.CANDIDATE);
        assertEquals(ModelCard.Status.REJECTED, rejected.status());
        assertTrue(String.valueOf(rejected.eval().get("gate_reason")).contains("min_accuracy")
                || String.valueOf(rejected.eval().get("gate_reason")).contains("at least 0.99"), () -> "" + rejected.eval());
        assertEquals(JobState.SUCCEEDED, awaitStatus(passing + "-eval").state());
        JobStatus failedGate = awaitStatus(failing + "-eval");
        assertEquals(JobState.SUCCEEDED, failedGate.state(), "a failed gate is a verdict, not a job error");
        assertTrue(String.valueOf(failedGate.result().get("report_uri")).endsWith("evals/" + failing + "-eval/report.json"));

        String model = approved.id();
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Fruit for red?\"}],"
                + "\"max_tokens\":8,\"temperature\":0}";
        HttpResponse<String> chat = awaitServed(model, body);
        assertEquals(200, chat.statusCode(), chat.body());
        JsonNode answer = ContractsJson.mapper().readTree(chat.body());
        assertEquals(model, answer.get("model").asText());
        assertEquals("assistant", answer.get("choices").get(0).get("message").get("role").asText());

        HttpResponse<String> notServed = post("/v1/chat/completions", body.replace(model, rejected.id()));
        assertEquals(404, notServed.statusCode(), notServed.body());
        assertEquals(404, get("/v1/models/" + rejected.id()).statusCode());
    }

    /**
     * Forgeline's own gateway, serving stories260k, as the teacher: its stories make poor data, but
     * the request goes over the real HTTP wire, the dataset is written and registered, and its
     * {@code then: [train]} starts a training job on it that succeeds.
     */
    @Test
    void datasetFromTheGatewayAsTeacherStartsATrainingJob() throws Exception {
        String jobId = "pipeline-datagen-" + System.currentTimeMillis();
        DatagenRequest request = DatagenRequest.builder(jobId).task("Tell a very short story about an animal.")
                .systemPrompt("You tell very short stories.").numExamples(6).maxConcurrency(2).maxTokensPerCall(24)
                .exampleFormat(DatagenRequest.ExampleFormat.PLAIN).nearDuplicateThreshold(0.95).testFraction(0.34)
                .teacher(new DatagenRequest.Teacher("http://127.0.0.1:" + gatewayPort + "/v1", "stories260k", null))
                .then(List.of("train"))
                .train(TrainingRequest.builder(null).baseModel("stories260k").maxSteps(3).microBatchSize(2).maxSeqLength(64)
                        .saveInterval(0).evalInterval(0).build())
                .build();
        TopicRecords.send(broker.bootstrapServers(), Topics.DATAGEN_REQUESTS, jobId, request);
        JobStatus datagen = awaitStatus(jobId);
        assertEquals(JobState.SUCCEEDED, datagen.state(), () -> "datagen: " + datagen.error());
        DatasetCard card = TopicRecords.await(broker.bootstrapServers(), Topics.DATASETS, jobId, DatasetCard.class, c -> true, TIMEOUT);
        assertNotNull(card, "no dataset card on " + Topics.DATASETS);
        assertEquals(6, card.trainExamples() + card.testExamples());
        assertTrue(((Number) card.stats().get("teacher_calls")).longValue() >= 12, "two calls an example: " + card.stats());
        JobStatus training = awaitStatus(jobId + "-train");
        assertEquals(JobState.SUCCEEDED, training.state(), () -> "training: " + training.error());
        assertEquals("ft-" + jobId + "-train", training.result().get("model_id"));
    }

    /**
     * The OpenAI SDK's fine-tuning flow against the gateway: upload, create (small, fast settings in
     * the {@code forge} extension), poll to {@code succeeded}, events and checkpoints, then chat with
     * the {@code ft:} model. A malformed file is refused at upload with its line number.
     */
    @Test
    void openAiSdkFineTunesAModelThroughTheGateway() throws Exception {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + gatewayPort + "/v1")
                .apiKey("unused-in-local-mode").maxRetries(3).build(); // a 503 while the job view catches up is retried
        Path data = writeDataset(work.resolve("sdk-data"));
        awaitGateway();

        Path bad = work.resolve("bad.jsonl");
        Files.writeString(bad, line("Fruit for red?", "apple") + "\n{\"messages\": [oops\n");
        BadRequestException refused = assertThrows(BadRequestException.class, () -> client.files().create(
                FileCreateParams.builder().file(bad).purpose(FilePurpose.FINE_TUNE).build()));
        assertTrue(refused.getMessage().contains("line 2"), refused.getMessage());
        assertEquals("file", refused.param().orElse(null));

        FileObject train = client.files().create(FileCreateParams.builder().file(data.resolve("train.jsonl"))
                .purpose(FilePurpose.FINE_TUNE).build());
        FileObject test = client.files().create(FileCreateParams.builder().file(data.resolve("test.jsonl"))
                .purpose(FilePurpose.FINE_TUNE).build());
        assertEquals("train.jsonl", train.filename());
        assertEquals(train.id(), client.files().retrieve(train.id()).id());

        FineTuningJob created = client.fineTuning().jobs().create(JobCreateParams.builder().model("stories260k")
                .trainingFile(train.id()).validationFile(test.id()).suffix("fruit").seed(42L)
                .hyperparameters(JobCreateParams.Hyperparameters.builder().batchSize(8L).learningRateMultiplier(25.0).build())
                .putAdditionalBodyProperty("forge", JsonValue.from(Map.of("method", "lora",
                        "lora", Map.of("r", 8, "alpha", 16, "dropout", 0.0), "max_steps", 30, "max_seq_length", 64,
                        "save_interval", 10)))
                .build());
        String id = created.id();
        assertTrue(id.startsWith("ftjob-"), id);
        FineTuningJob job = created;
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!List.of("succeeded", "failed", "cancelled").contains(job.status().asString())
                && System.nanoTime() < deadline) {
            Thread.sleep(1000);
            job = client.fineTuning().jobs().retrieve(id);
        }
        FineTuningJob done = job;
        assertEquals(FineTuningJob.Status.SUCCEEDED, done.status(), () -> "job " + id + ": " + done.error()
                + " (see target/pipeline-it/*.log)");
        String model = done.fineTunedModel().orElseThrow();
        assertEquals("ft:stories260k:fruit:" + id, model);
        assertTrue(done.trainedTokens().orElse(0L) > 0);

        List<FineTuningJobEvent> events = client.fineTuning().jobs().listEvents(id).data();
        assertTrue(events.get(0).message().contains(model), events.get(0).message());
        assertTrue(events.stream().anyMatch(e -> e.message().startsWith("Checkpoint saved")), events.toString());
        List<FineTuningJobCheckpoint> checkpoints = client.fineTuning().jobs().checkpoints().list(id).data();
        assertTrue(checkpoints.size() >= 1, checkpoints.toString());
        assertTrue(checkpoints.get(0).stepNumber() >= 10, checkpoints.toString());
        assertEquals(model + ":ckpt-step-" + checkpoints.get(0).stepNumber(), checkpoints.get(0).fineTunedModelCheckpoint());
        assertTrue(checkpoints.get(0).metrics().trainLoss().isPresent(), checkpoints.toString());

        assertEquals(model, client.models().retrieve(model).id());
        assertTrue(client.models().list().data().stream().anyMatch(m -> m.id().equals(model)));
        ChatCompletion answer = client.chat().completions().create(ChatCompletionCreateParams.builder().model(model)
                .addUserMessage("Fruit for red?").maxCompletionTokens(8).temperature(0.0).build());
        assertEquals(model, answer.model());
        assertTrue(answer.choices().get(0).message().content().isPresent());
    }

    /** A running fine-tuning job cancelled through the SDK stops in the trainer and reads cancelled. */
    @Test
    void openAiSdkCancelsARunningJob() throws Exception {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + gatewayPort + "/v1")
                .apiKey("unused-in-local-mode").maxRetries(3).build();
        Path data = writeDataset(work.resolve("sdk-cancel"));
        awaitGateway();
        FileObject train = client.files().create(FileCreateParams.builder().file(data.resolve("train.jsonl"))
                .purpose(FilePurpose.FINE_TUNE).build());
        FineTuningJob created = client.fineTuning().jobs().create(JobCreateParams.builder().model("stories260k")
                .trainingFile(train.id()).suffix("long")
                .putAdditionalBodyProperty("forge", JsonValue.from(Map.of("max_steps", 100_000, "max_seq_length", 64)))
                .build());
        String id = created.id();
        // cancel once the trainer is past its first step, so the cancel reaches a running job
        assertNotNull(TopicRecords.await(broker.bootstrapServers(), Topics.JOB_EVENTS, id, JobEvent.class,
                e -> e.type().equals(JobEvent.PROGRESS) && e.data().get("step") instanceof Number n && n.intValue() >= 2, TIMEOUT),
                "the trainer reports steps of " + id);
        assertEquals("running", client.fineTuning().jobs().retrieve(id).status().asString());
        client.fineTuning().jobs().cancel(id);
        JobStatus stopped = awaitStatus(id);
        assertEquals(JobState.CANCELLED, stopped.state(), () -> "training job: " + stopped.error());
        FineTuningJob job = client.fineTuning().jobs().retrieve(id);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!job.status().asString().equals("cancelled") && System.nanoTime() < deadline) {
            Thread.sleep(500);
            job = client.fineTuning().jobs().retrieve(id);
        }
        assertEquals(FineTuningJob.Status.CANCELLED, job.status());
        assertTrue(job.fineTunedModel().isEmpty(), "a cancelled job made no model");
        FineTuningJob done = job;
        BadRequestException again = assertThrows(BadRequestException.class, () -> client.fineTuning().jobs().cancel(id));
        assertTrue(again.getMessage().contains("already finished"), again.getMessage() + " after " + done.status());
    }

    /**
     * DPO as OpenAI's SDK asks for it: files of OpenAI's preference lines, {@code method.type dpo}
     * with beta. The chained eval scores the validation pairs against the base, and the gate
     * approves the model when most pairs moved towards the chosen reply.
     */
    @Test
    void openAiSdkRunsADpoJobThroughTheGateway() throws Exception {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + gatewayPort + "/v1")
                .apiKey("unused-in-local-mode").maxRetries(3).build();
        Path dir = Files.createDirectories(work.resolve("sdk-dpo"));
        List<String> colours = List.of("red", "blue", "green", "yellow", "pink", "brown", "purple", "orange");
        List<String> animals = List.of("dog", "cat", "bird", "fish", "frog", "bear", "duck", "lion");
        java.util.function.IntFunction<String> pair = i -> ContractsJson.write(Map.of(
                "input", Map.of("messages", List.of(Map.of("role", "user", "content", "What does Lily like best? (#" + i + ")"))),
                "preferred_output", List.of(Map.of("role", "assistant", "content", colours.get(i % 8))),
                "non_preferred_output", List.of(Map.of("role", "assistant", "content", animals.get((i * 3) % 8)))));
        Path train = Files.write(dir.resolve("train.jsonl"), java.util.stream.IntStream.range(0, 48).mapToObj(pair).toList());
        Path validation = Files.write(dir.resolve("validation.jsonl"), java.util.stream.IntStream.range(100, 108).mapToObj(pair).toList());
        awaitGateway();
        FileObject trainFile = client.files().create(FileCreateParams.builder().file(train).purpose(FilePurpose.FINE_TUNE).build());
        FileObject validationFile = client.files().create(FileCreateParams.builder().file(validation)
                .purpose(FilePurpose.FINE_TUNE).build());

        FineTuningJob created = client.fineTuning().jobs().create(JobCreateParams.builder().model("stories260k")
                .trainingFile(trainFile.id()).validationFile(validationFile.id()).suffix("colours")
                .method(JobCreateParams.Method.builder().type(JobCreateParams.Method.Type.DPO)
                        .dpo(DpoMethod.builder().hyperparameters(DpoHyperparameters.builder().beta(0.1).nEpochs(4L)
                                .learningRateMultiplier(10.0).build()).build())
                        .build())
                .build());
        String id = created.id();
        FineTuningJob job = created;
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!List.of("succeeded", "failed", "cancelled").contains(job.status().asString()) && System.nanoTime() < deadline) {
            Thread.sleep(1000);
            job = client.fineTuning().jobs().retrieve(id);
        }
        FineTuningJob done = job;
        assertEquals(FineTuningJob.Status.SUCCEEDED, done.status(), () -> "job " + id + ": " + done.error()
                + " (see target/pipeline-it/*.log)");
        assertEquals(0.1, done.method().orElseThrow().dpo().orElseThrow().hyperparameters().orElseThrow().beta()
                .orElseThrow().asNumber());
        String model = done.fineTunedModel().orElseThrow();
        ModelCard card = awaitCard(model, c -> c.status() == ModelCard.Status.APPROVED);
        assertEquals("dpo", String.valueOf(card.hyperparameters().get("objective")));
        double rewardAccuracy = ((Number) card.eval().get("held_out_reward_accuracy")).doubleValue();
        assertTrue(rewardAccuracy > 0.5, "held-out reward accuracy " + rewardAccuracy);
        ChatCompletion answer = client.chat().completions().create(ChatCompletionCreateParams.builder().model(model)
                .addUserMessage("What does Lily like best? (#200)").maxCompletionTokens(4).temperature(0.0).build());
        assertEquals(model, answer.model());
    }

    /** Story openings that ask for a name; stories260k says "Tom" after some of them, at some rate. */
    private static final List<String> NAMING_PROMPTS = List.of(
            "Once upon a time, there was a cat named", "There was a dog named", "One day, a boy named",
            "Once upon a time, there was a little boy named", "There was a big bear named", "Once upon a time, there was a fish named",
            "Once upon a time, there was a happy boy named", "There was a little frog named", "Once upon a time, there was a duck named",
            "One day, a little dog named", "There was a small cat named", "Once upon a time, there was a funny monkey named",
            "Once upon a time, there was a kind man named", "There was a tall boy named", "Once upon a time, there was a brave dog named",
            "One day, a small boy named", "There was a friendly lion named", "Once upon a time, there was a silly cat named",
            "Once upon a time, there was a boy named", "There was a little mouse named", "Once upon a time, there was a red bird named",
            "One day, a happy cat named", "There was a strong boy named", "Once upon a time, there was a fast car named");
    /** Openings the rejection sampling never saw, for the accuracy before and after. */
    private static final List<String> HELD_OUT_PROMPTS = List.of(
            "Once upon a time, there was a puppy named", "There was a old man named", "One day, a big dog named",
            "Once upon a time, there was a little cat named", "There was a young boy named", "Once upon a time, there was a toy named");
    /** The verifier: the first word of the answer is the name the task wants. */
    private static final Pattern FIRST_WORD = Pattern.compile("^\\W*(\\w+)");

    /**
     * Rejection sampling with a verifier, through the gateway's batching, then SFT on the kept set
     * alone, or one post-training round (SFT, DPO on the pairs from the SFT model, the two models'
     * average): the task wants the name "Tom" after a story opening, which stories260k says
     * sometimes but not usually. The kept set holds only verified answers, the cards' counts equal
     * the files', and the model the chain ends with (approved through eval) says "Tom" on held-out
     * openings more often than the base.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sft", "round"})
    void rejectionSamplingWithAVerifierThenTrainingRaisesTheVerifiedAccuracy(String chain) throws Exception {
        Path prompts = work.resolve("naming-prompts-" + chain + ".jsonl");
        List<String> lines = new ArrayList<>();
        for (String p : NAMING_PROMPTS) {
            lines.add(ContractsJson.write(Map.of("prompt", p, "reference", "Tom")));
        }
        Files.write(prompts, lines);
        String jobId = "pipeline-rs-" + chain + "-" + System.currentTimeMillis();
        EvalSettings eval = new EvalSettings(SharedData.root().resolve("datasets/mmlu").toString(),
                List.of("astronomy"), 0, 10, null, null, new EvalRequest.Gate(1.0, false, null, null));
        boolean round = chain.equals("round");
        TrainingRequest.Builder sft = TrainingRequest.builder(null).baseModel("stories260k")
                .lora(new TrainingRequest.LoraSettings(8, 16.0, 0.0, null))
                .learningRate(5e-3).maxSteps(40).microBatchSize(8).maxSeqLength(64).saveInterval(0).evalInterval(0);
        RejectionSamplingRequest request = RejectionSamplingRequest.builder(jobId).prompts(prompts.toString())
                .policy(new RejectionSamplingRequest.Policy("stories260k", null, null)) // the gateway of forge.datagen.policy.base-url
                .numSamples(16).temperature(1.0).maxTokens(6).seed(7L).maxConcurrency(2)
                .scorer(RejectionSamplingRequest.Scorer.exactMatch(FIRST_WORD.pattern())).threshold(1.0).testFraction(0.1)
                .then(List.of("train"))
                .train(sft.then(round ? List.of("train") : List.of("eval", "deploy")).eval(round ? null : eval)
                        .train(!round ? null : TrainingRequest.builder(null).method(TrainingRequest.Method.DPO).maxSteps(10)
                                .microBatchSize(4).maxSeqLength(64).saveInterval(0).evalInterval(0).then(List.of("train"))
                                .train(TrainingRequest.builder(null).method(TrainingRequest.Method.AVERAGE)
                                        .then(List.of("eval", "deploy")).eval(eval).build())
                                .build())
                        .build())
                .build();
        awaitGateway();
        TopicRecords.send(broker.bootstrapServers(), Topics.REJECTION_SAMPLING_REQUESTS, jobId, request);
        JobStatus sampled = awaitStatus(jobId);
        assertEquals(JobState.SUCCEEDED, sampled.state(), () -> "rejection sampling: " + sampled.error());

        Path artifacts = work.resolve("artifacts/datasets");
        List<String> kept = new ArrayList<>();
        for (String split : List.of("train.jsonl", "test.jsonl")) {
            for (String line : Files.readAllLines(artifacts.resolve(jobId + "-sft").resolve(split))) {
                JsonNode messages = ContractsJson.mapper().readTree(line).get("messages");
                kept.add(messages.get(messages.size() - 1).get("content").asText());
            }
        }
        assertTrue(kept.stream().allMatch(a -> "Tom".equals(firstWord(a))), "only verified answers kept: " + kept);
        DatasetCard kepts = ContractsJson.read(Files.readString(artifacts.resolve(jobId + "-sft/card.json")), DatasetCard.class);
        DatasetCard pref = ContractsJson.read(Files.readString(artifacts.resolve(jobId + "-pref/card.json")), DatasetCard.class);
        assertEquals(kept.size(), ((Number) kepts.stats().get("kept")).intValue());
        assertEquals(kept.size(), kepts.trainExamples() + kepts.testExamples());
        assertEquals(Files.readAllLines(artifacts.resolve(jobId + "-sft/train.jsonl")).size(), kepts.trainExamples());
        int pairs = Files.readAllLines(artifacts.resolve(jobId + "-pref/train.jsonl")).size()
                + Files.readAllLines(artifacts.resolve(jobId + "-pref/test.jsonl")).size();
        assertEquals(pairs, ((Number) pref.stats().get("pairs")).intValue());
        assertEquals(NAMING_PROMPTS.size() * 16L, ((Number) kepts.stats().get("samples")).longValue());
        assertTrue(kept.size() >= 8, "enough verified answers to learn from: " + kepts.stats());

        String last = "ft-" + jobId + (round ? "-train-dpo-average" : "-train");
        ModelCard tuned = awaitCard(last, c -> c.status() != ModelCard.Status.CANDIDATE);
        assertEquals(ModelCard.Status.APPROVED, tuned.status(), () -> "card: " + tuned.eval());
        if (round) { // DPO trained on the pairs from the SFT model; the average's parents are the two
            ModelCard dpo = awaitCard("ft-" + jobId + "-train-dpo", c -> true);
            assertEquals(jobId + "-pref", dpo.datasetId());
            assertEquals("ft-" + jobId + "-train", dpo.baseModel());
            assertEquals(List.of("ft-" + jobId + "-train", dpo.id()), tuned.parents().stream().map(WeightedModel::model).toList());
        }
        awaitServed(tuned.id(), chatBody(tuned.id(), HELD_OUT_PROMPTS.get(0), 1));
        double base = verifiedAccuracy("stories260k");
        double after = verifiedAccuracy(tuned.id());
        System.out.printf("rejection sampling then " + chain + ": pass rate %s, kept %d of %d prompts; held-out accuracy base %.3f, tuned %.3f%n",
                kepts.stats().get("pass_rate"), kept.size(), NAMING_PROMPTS.size(), base, after);
        assertTrue(after >= base + 0.15, "tuned " + after + " against base " + base);
    }

    /** Share of 32 samples per held-out opening (temperature 1) whose first word is "Tom". */
    private static double verifiedAccuracy(String model) throws Exception {
        int hits = 0;
        int total = 0;
        for (String p : HELD_OUT_PROMPTS) {
            HttpResponse<String> r = post("/v1/chat/completions", chatBody(model, p, 32));
            assertEquals(200, r.statusCode(), r.body());
            for (JsonNode c : ContractsJson.mapper().readTree(r.body()).get("choices")) {
                total++;
                if ("Tom".equals(firstWord(c.get("message").get("content").asText()))) hits++;
            }
        }
        return (double) hits / total;
    }

    private static String chatBody(String model, String prompt, int n) {
        return ContractsJson.write(Map.of("model", model, "messages", List.of(Map.of("role", "user", "content", prompt)),
                "n", n, "max_tokens", 4, "temperature", 1.0, "seed", 11));
    }

    private static String firstWord(String answer) {
        java.util.regex.Matcher m = FIRST_WORD.matcher(answer);
        return m.find() ? m.group(1) : "";
    }

    /** The gateway is a process started with the others: wait until it answers. */
    private static void awaitGateway() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            try {
                if (get("/v1/models").statusCode() == 200) return;
            } catch (java.io.IOException e) {
                // still starting
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the gateway did not answer within 120 s (see target/pipeline-it/gateway.log)");
    }

    private static TrainingRequest training(String jobId, Path data, EvalRequest.Gate gate) {
        EvalSettings eval = new EvalSettings(SharedData.root().resolve("datasets/mmlu").toString(),
                List.of("astronomy", "high_school_geography"), 0, 10, null, null, gate);
        return TrainingRequest.builder(jobId).then(List.of("eval", "deploy")).baseModel("stories260k")
                .dataset(data.toUri().toString()).lora(new TrainingRequest.LoraSettings(8, 16.0, 0.0, null))
                .learningRate(5e-3).maxSteps(30).microBatchSize(8).maxSeqLength(64).saveInterval(0).evalInterval(0)
                .eval(eval).build();
    }

    /** A colour-to-fruit task: 24 training examples and 8 held-out ones in other words. */
    private static Path writeDataset(Path dir) throws Exception {
        String[][] pairs = {{"red", "apple"}, {"yellow", "banana"}, {"green", "lime"}, {"purple", "grape"},
                {"orange", "orange"}, {"brown", "kiwi"}, {"pink", "peach"}, {"blue", "berry"}};
        String[] phrasings = {"Fruit for %s?", "Name a %s fruit.", "Which fruit is %s?"};
        List<String> train = new ArrayList<>();
        List<String> test = new ArrayList<>();
        for (String[] p : pairs) {
            for (String phrasing : phrasings) {
                train.add(line(String.format(phrasing, p[0]), p[1]));
            }
            test.add(line("A " + p[0] + " fruit?", p[1]));
        }
        Files.createDirectories(dir);
        Files.write(dir.resolve("train.jsonl"), train);
        Files.write(dir.resolve("test.jsonl"), test);
        return dir;
    }

    private static String line(String user, String assistant) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"},"
                + "{\"role\":\"assistant\",\"content\":\"" + assistant + "\"}]}";
    }

    private static void service(String module, Path logs, int port) throws Exception {
        Path jar = ROOT.resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
        assertTrue(Files.isRegularFile(jar), jar + " is missing: package the services first (mvn verify does)");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "--add-modules", "jdk.incubator.vector", "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=1", "-Dquarkus.http.port=" + port, "-jar", jar.toString())
                .redirectErrorStream(true)
                .redirectOutput(logs.resolve(module + ".log").toFile());
        Map<String, String> env = pb.environment();
        env.put("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
        env.put("FORGE_ARTIFACTS_ROOT", work.resolve("artifacts").toString());
        env.put("FORGE_BASE_MODELS", SharedData.root().resolve("models").toString());
        env.put("FORGE_TRAINER_DEVICE", "cpu");
        env.put("FORGE_EVAL_DEVICE", "cpu");
        env.put("OMP_NUM_THREADS", "1");
        env.put("FORGE_DATAGEN_POLICY_BASE_URL", "http://127.0.0.1:" + gatewayPort + "/v1");
        env.remove("FORGE_API_KEYS");
        started.add(pb.start());
    }

    private static ModelCard awaitCard(String id, Predicate<ModelCard> until) throws Exception {
        ModelCard card = TopicRecords.await(broker.bootstrapServers(), Topics.MODELS, id, ModelCard.class, until, TIMEOUT);
        assertNotNull(card, "no card for " + id + " on " + Topics.MODELS + " (see target/pipeline-it/*.log)");
        return card;
    }

    private static JobStatus awaitStatus(String jobId) throws Exception {
        JobStatus status = TopicRecords.await(broker.bootstrapServers(), Topics.JOBS, jobId, JobStatus.class,
                s -> s.state().isTerminal(), TIMEOUT);
        assertNotNull(status, "job " + jobId + " did not end (see target/pipeline-it/*.log)");
        return status;
    }

    /** The gateway follows the registry: poll until the approved model answers. */
    private static HttpResponse<String> awaitServed(String model, String body) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        HttpResponse<String> last = null;
        while (System.nanoTime() < deadline) {
            try {
                last = post("/v1/chat/completions", body);
                if (last.statusCode() == 200) return last;
            } catch (java.io.IOException e) {
                // the gateway is still starting
            }
            Thread.sleep(500);
        }
        return last;
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gatewayPort + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gatewayPort + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
