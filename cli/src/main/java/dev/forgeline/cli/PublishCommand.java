package dev.forgeline.cli;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.core.JsonProcessingException;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobRequest;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "publish", mixinStandardHelpOptions = true,
        description = "Publish a request (JSON) on a request topic, validated first: every problem is named by its field.")
final class PublishCommand implements Callable<Integer> {
    /** A request topic, its short name, and the record it carries. */
    private record RequestTopic(String shortName, String name, Class<? extends JobRequest> type) {}

    private static final List<RequestTopic> REQUEST_TOPICS = List.of(
            new RequestTopic("datagen", Topics.DATAGEN_REQUESTS, DatagenRequest.class),
            new RequestTopic("rejection-sampling", Topics.REJECTION_SAMPLING_REQUESTS, RejectionSamplingRequest.class),
            new RequestTopic("train", Topics.TRAINING_REQUESTS, TrainingRequest.class),
            new RequestTopic("eval", Topics.EVAL_REQUESTS, EvalRequest.class));

    @Mixin
    Target target;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "TOPIC",
            description = "forge.datagen.requests, forge.rejection-sampling.requests, forge.training.requests or"
                    + " forge.eval.requests (or datagen, rejection-sampling, train, eval)")
    String topic;

    @Parameters(index = "1", paramLabel = "FILE", description = "the request as JSON; - reads standard input")
    String file;

    @Option(names = {"-f", "--follow"}, description = "then follow the job until it ends")
    boolean follow;

    @Option(names = "--dry-run", description = "validate only")
    boolean dryRun;

    @Override
    public Integer call() throws InterruptedException {
        RequestTopic requestTopic = REQUEST_TOPICS.stream().filter(t -> t.name().equals(topic) || t.shortName().equals(topic))
                .findFirst().orElseThrow(() -> new CliException(Exit.USAGE, "unknown request topic '" + topic + "': use one of "
                        + REQUEST_TOPICS.stream().map(RequestTopic::name).collect(Collectors.joining(", "))));
        Class<? extends JobRequest> type = requestTopic.type();
        String name = requestTopic.name();
        JobRequest request = parse(read(), type);
        List<FieldError> errors = request.validate();
        if (!errors.isEmpty()) {
            throw new CliException(Exit.USAGE, "the request is not valid for " + name + ":\n"
                    + errors.stream().map(e -> "  " + e).collect(Collectors.joining("\n")));
        }
        PrintWriter out = spec.commandLine().getOut();
        if (dryRun) {
            out.println("valid " + type.getSimpleName() + " " + request.jobId());
            out.flush();
            return Exit.OK;
        }
        try (Target connection = target) {
            target.publish(name, request.jobId(), request);
            out.println("published " + request.jobId() + " on " + name);
            out.flush();
            if (!follow) return Exit.OK;
            JobStatus end = new JobFollower(target.view(), out, JobFollower.mode(false), true).follow(request.jobId(), Duration.ofMinutes(10));
            return end.state() == JobState.SUCCEEDED ? Exit.OK : Exit.FAILED;
        }
    }

    private String read() {
        try {
            return file.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : Files.readString(Path.of(file));
        } catch (NoSuchFileException e) {
            throw new CliException(Exit.NOT_FOUND, "no such file: " + file);
        } catch (IOException e) {
            throw new CliException(Exit.USAGE, "cannot read " + file + ": " + e.getMessage());
        }
    }

    /** The request record; a JSON or type error names its field and position. */
    static <T extends JobRequest> T parse(String json, Class<T> type) {
        try {
            return ContractsJson.read(json, type);
        } catch (JsonMappingException e) {
            String field = e.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            throw new CliException(Exit.USAGE, (field.isEmpty() ? "" : field + ": ") + e.getOriginalMessage()
                    + location(e));
        } catch (JsonProcessingException e) {
            throw new CliException(Exit.USAGE, "not JSON: " + e.getOriginalMessage() + location(e));
        }
    }

    private static String location(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }
}
