package dev.forgeline.cli;

import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on an MMLU-style multiple-choice set against its base (lm-evaluation-harness "
                + "conventions), follow the job, and print accuracy per subject. A measurement: the model's status does not "
                + "change unless --gate asks for the evaluator's default gate (a failed gate rejects the model).")
final class EvalCommand implements Callable<Integer> {
    /** A gate every model passes: the verdict never changes the card (no deploy step either). */
    private static final EvalRequest.Gate MEASURE_ONLY = new EvalRequest.Gate(1.0, false, null, null);

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "a registry id, base-model folder name, path or Hub id")
    String model;

    @Option(names = "--mmlu", paramLabel = "DIR", defaultValue = "mmlu",
            description = "the set: a folder in MMLU's layout, a CSV or JSONL file, or a set the evaluator names (default ${DEFAULT-VALUE})")
    String dataset;

    @Option(names = "--shots", defaultValue = "5", description = "few-shot examples per question (default ${DEFAULT-VALUE})")
    int shots;

    @Option(names = "--subjects", split = ",", description = "only these subjects (comma-separated)")
    List<String> subjects;

    @Option(names = "--limit", description = "at most this many questions per subject")
    Integer limit;

    @Option(names = "--base", description = "compare with this model (default: the model card's base model)")
    String base;

    @Option(names = "--held-out", paramLabel = "DATASET", description = "also measure held-out loss on this chat dataset's test.jsonl")
    String heldOut;

    @Option(names = "--id", description = "the eval job's id (default eval-<time>)")
    String id;

    @Option(names = "--gate", description = "apply the default gate (held-out loss below the base's, accuracy at most 0.02 "
            + "below it); a model that fails it is rejected and no longer served")
    boolean gate;

    @Option(names = "--json", description = "the job's events and final status as JSON lines, no table")
    boolean json;

    @Override
    public Integer call() throws InterruptedException {
        String dir = Files.isDirectory(Path.of(dataset)) || Files.isRegularFile(Path.of(dataset))
                ? Path.of(dataset).toAbsolutePath().toString() : dataset;
        String jobId = id != null ? id : "eval-" + System.currentTimeMillis();
        try (Target connection = target) {
            PrintWriter out = spec.commandLine().getOut();
            String baseModel = base != null ? base : target.view().model(model).map(ModelCard::baseModel).orElse(null);
            EvalRequest request = new EvalRequest(jobId, 0, null, model, baseModel, dir, subjects, shots, limit, null, null,
                    heldOut, gate ? null : MEASURE_ONLY);
            List<FieldError> errors = request.validate();
            if (!errors.isEmpty()) {
                throw new CliException(Exit.USAGE, errors.stream().map(String::valueOf).collect(Collectors.joining("; ")));
            }
            target.publish(Topics.EVAL_REQUESTS, jobId, request);
            if (!json) out.println("evaluating " + model + (baseModel != null ? " against " + baseModel : "") + " as job " + jobId);
            JobStatus end = new JobFollower(target.view(), out, JobFollower.mode(json), false).follow(jobId, Duration.ofMinutes(5));
            if (end.state() != JobState.SUCCEEDED) return Exit.FAILED;
            if (!json) EvalReport.print(end, out);
            return Exit.OK;
        }
    }
}
