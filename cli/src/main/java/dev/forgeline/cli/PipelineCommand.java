package dev.forgeline.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatasetCard;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.EvalSettings;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.jobs.PlatformView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The whole pipeline from one sentence: one datagen request whose {@code then} chain is
 * train -> eval -> deploy, so the services pass the work along Kafka as they always do; this
 * command only publishes it, follows each job in turn, and asks the served model once.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = {"Run the whole pipeline for a task in plain words: a teacher writes a dataset, LoRA fine-tunes the "
                + "base model on it, the evaluator compares it with the base and gates it, the gateway serves it, "
                + "and the new model answers one chat message.",
                "The teacher is your OpenAI-compatible endpoint when FORGE_TEACHER_BASE_URL is set (with "
                + "FORGE_TEACHER_MODEL and FORGE_TEACHER_API_KEY), else Forgeline's own gateway serving the base model "
                + "(no network, no configuration; its data is only as good as that model).",
                "Ctrl-C cancels the running job; datasets, checkpoints and models made so far stay in the artifact store."})
final class PipelineCommand implements Callable<Integer> {
    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "TASK", description = "what the model should do, in plain words")
    String task;

    @Option(names = "--base", defaultValue = "stories260k",
            description = "the base model: a base-model folder name, path or Hub id (default ${DEFAULT-VALUE})")
    String base;

    @Option(names = "--examples", defaultValue = "100", description = "examples to generate (default ${DEFAULT-VALUE})")
    int examples;

    @Option(names = "--max-steps", defaultValue = "40", description = "LoRA optimizer steps (default ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--learning-rate", defaultValue = "5e-4", description = "peak learning rate (default ${DEFAULT-VALUE})")
    double learningRate;

    @Option(names = "--mmlu", paramLabel = "DIR", defaultValue = "mmlu",
            description = "the multiple-choice set the evaluator compares base and tuned model on (default ${DEFAULT-VALUE})")
    String mmlu;

    @Option(names = "--subjects", split = ",", defaultValue = "astronomy,high_school_geography",
            description = "its subjects (default ${DEFAULT-VALUE})")
    List<String> subjects;

    @Option(names = "--limit", defaultValue = "40", description = "questions per subject (default ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--shots", defaultValue = "0", description = "few-shot examples per question (default ${DEFAULT-VALUE})")
    int shots;

    @Option(names = "--max-accuracy-drop", defaultValue = "0.05",
            description = "the gate: base accuracy minus the model's at most this (default ${DEFAULT-VALUE}); "
                    + "the held-out loss must also beat the base's")
    double maxAccuracyDrop;

    @Option(names = "--prompt", description = "the chat message the served model answers at the end (default: the task)")
    String prompt;

    @Option(names = "--id", description = "the first job's id; the others derive from it (default pipeline-<time>)")
    String id;

    @Option(names = "--json", description = "one JSON summary at the end instead of progress")
    boolean json;

    private volatile String running;
    private volatile boolean done;

    @Override
    public Integer call() throws Exception {
        String jobId = id != null ? id : "pipeline-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        String trainJob = jobId + "-train";
        String evalJob = trainJob + "-eval";
        String modelId = "ft-" + trainJob;
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter say = json ? new PrintWriter(java.io.OutputStream.nullOutputStream()) : out;
        GatewayClient gateway = target.gateway();

        DatagenRequest.Teacher teacher = teacher(gateway);
        DatagenRequest request = request(jobId, teacher);
        List<FieldError> errors = request.validate();
        if (!errors.isEmpty()) {
            throw new CliException(Exit.USAGE, errors.stream().map(String::valueOf).collect(Collectors.joining("; ")));
        }
        try (Target connection = target) {
            PlatformView view = target.view();
            JobFollower follower = new JobFollower(view, say, JobFollower.mode(false), false);
            Thread cancelOnInterrupt = new Thread(this::cancelRunning, "forge-pipeline-cancel");
            Runtime.getRuntime().addShutdownHook(cancelOnInterrupt);

            say.println(Style.color("@|bold forge pipeline|@ ") + jobId + ": " + task);
            say.println("  teacher  " + teacher.model() + " at " + teacher.baseUrl()
                    + (System.getenv("FORGE_TEACHER_BASE_URL") == null ? " (Forgeline's gateway; set FORGE_TEACHER_BASE_URL for yours)" : ""));
            say.println("  base     " + base);
            target.publish(Topics.DATAGEN_REQUESTS, jobId, request);

            step(say, 1, "dataset", jobId);
            JobStatus datagen = follow(follower, jobId, Duration.ofMinutes(2));
            DatasetCard card = await(() -> view.dataset(jobId).orElse(null), Duration.ofSeconds(30), "the dataset card of " + jobId);
            say.println("  dataset " + card.id() + ": " + card.trainExamples() + " train / " + card.testExamples() + " test examples");

            step(say, 2, "training", trainJob + " (LoRA on " + base + ")");
            JobStatus training = follow(follower, trainJob, Duration.ofMinutes(2));

            step(say, 3, "evaluation", evalJob + " (" + modelId + " against " + base + ")");
            JobStatus eval = follow(follower, evalJob, Duration.ofMinutes(2));
            EvalReport.print(eval, say);
            ModelCard model = await(() -> view.model(modelId).filter(c -> c.status() != ModelCard.Status.CANDIDATE).orElse(null),
                    Duration.ofSeconds(30), "the gate's verdict on " + modelId);
            if (model.status() != ModelCard.Status.APPROVED) {
                done = true;
                throw new CliException(Exit.FAILED, "the gate rejected " + modelId + ": " + model.eval().get("gate_reason")
                        + " (the model is not served; its files stay in the artifact store)");
            }

            step(say, 4, "serving", modelId);
            await(() -> servedBy(gateway, modelId) ? Boolean.TRUE : null, Duration.ofMinutes(2), modelId + " on " + gateway.base());
            say.println("  " + Style.state("approved") + " and served: " + gateway.base() + "v1 model \"" + modelId + "\"");
            String message = prompt != null ? prompt : task;
            say.println();
            say.println(Style.color("@|bold > |@") + message);
            say.flush();
            String answer = gateway.chat(modelId, List.of(new GatewayClient.Message("user", message)), 64, 0.0, delta -> {
                say.print(delta);
                say.flush();
            });
            say.println();
            done = true;
            if (json) {
                ObjectNode summary = ContractsJson.mapper().createObjectNode();
                summary.put("job_id", jobId).put("dataset", card.id()).put("train_job", trainJob).put("eval_job", evalJob)
                        .put("model", modelId).put("status", "approved").put("prompt", message).put("answer", answer);
                summary.putPOJO("dataset_counts", List.of(card.trainExamples(), card.testExamples()));
                summary.putPOJO("training", training.result());
                summary.putPOJO("eval", model.eval());
                summary.put("datagen_seconds", seconds(datagen));
                out.println(summary);
            }
            out.flush();
            return Exit.OK;
        } finally {
            done = true;
        }
    }

    private DatagenRequest.Teacher teacher(GatewayClient gateway) throws InterruptedException {
        String url = System.getenv("FORGE_TEACHER_BASE_URL");
        if (url != null && !url.isBlank()) {
            String model = System.getenv().getOrDefault("FORGE_TEACHER_MODEL", "gpt-4o-mini");
            return new DatagenRequest.Teacher(url, model, System.getenv("FORGE_TEACHER_API_KEY") != null ? "FORGE_TEACHER_API_KEY" : null);
        }
        if (!gateway.models().contains(base)) {
            throw new CliException(Exit.NOT_FOUND, "the gateway at " + gateway.base() + " does not serve " + base
                    + " to act as the teacher: put it in the base-model folder, or set FORGE_TEACHER_BASE_URL");
        }
        return new DatagenRequest.Teacher(gateway.base() + "v1", base, null);
    }

    /** datagen -> train -> eval -> deploy in one request; a small model as teacher writes plain text, not JSON. */
    private DatagenRequest request(String jobId, DatagenRequest.Teacher teacher) {
        boolean ownGateway = System.getenv("FORGE_TEACHER_BASE_URL") == null;
        EvalSettings eval = new EvalSettings(mmlu, subjects, shots, limit, null, null,
                new EvalRequest.Gate(maxAccuracyDrop, true, null, null));
        TrainingRequest train = TrainingRequest.builder(null).baseModel(base)
                .lora(new TrainingRequest.LoraSettings(8, 16.0, 0.0, null)).learningRate(learningRate).maxSteps(maxSteps)
                .microBatchSize(8).maxSeqLength(128).saveInterval(Math.max(1, maxSteps / 3)).evalInterval(Math.max(1, maxSteps / 6))
                .eval(eval).build();
        DatagenRequest.Builder b = DatagenRequest.builder(jobId).task(task).numExamples(examples).teacher(teacher)
                .then(List.of("train", "eval", "deploy")).train(train).testFraction(0.2);
        if (ownGateway) {
            b.systemPrompt(task).exampleFormat(DatagenRequest.ExampleFormat.PLAIN).maxTokensPerCall(48)
                    .maxConcurrency(4).nearDuplicateThreshold(0.95);
        }
        return b.build();
    }

    private JobStatus follow(JobFollower follower, String jobId, Duration waitForStart) throws InterruptedException {
        running = jobId;
        JobStatus end = follower.follow(jobId, waitForStart);
        running = null;
        if (end.state() != JobState.SUCCEEDED) {
            done = true;
            throw new CliException(Exit.FAILED, end.kind() + " job " + jobId + " ended " + end.state()
                    + (end.error() != null ? ": " + end.error() : ""));
        }
        return end;
    }

    /** On Ctrl-C (the JVM shutting down before the pipeline ended): cancel the job that was running. */
    private void cancelRunning() {
        String job = running;
        if (done || job == null) return;
        try {
            target.publish(Topics.JOB_CANCELS, job, JobCancel.of(job, "pipeline interrupted"));
            System.err.println("\nforge: cancelled " + job + "; what was made so far stays in the artifact store");
        } catch (RuntimeException e) {
            System.err.println("\nforge: could not cancel " + job + ": " + e.getMessage());
        }
    }

    private static void step(PrintWriter say, int n, String what, String detail) {
        say.println(Style.color("@|bold " + n + "/4 " + what + "|@") + "  " + detail);
        say.flush();
    }

    private static boolean servedBy(GatewayClient gateway, String model) {
        try {
            return gateway.models().contains(model);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (CliException e) {
            return false;
        }
    }

    private static long seconds(JobStatus s) {
        return s.createdAt() == null || s.updatedAt() == null ? -1 : Duration.between(s.createdAt(), s.updatedAt()).toSeconds();
    }

    private static <T> T await(java.util.function.Supplier<T> probe, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T value = probe.get();
            if (value != null) return value;
            if (System.nanoTime() > deadline) throw new CliException(Exit.FAILED, "timed out waiting for " + what);
            TimeUnit.MILLISECONDS.sleep(250);
        }
    }
}
