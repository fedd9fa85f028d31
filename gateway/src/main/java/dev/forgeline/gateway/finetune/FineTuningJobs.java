package dev.forgeline.gateway.finetune;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.DeserializationFeature;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.EvalSettings;
import dev.forgeline.contracts.FieldError;
import dev.forgeline.contracts.JobCancel;
import dev.forgeline.contracts.JobEvent;
import dev.forgeline.contracts.JobState;
import dev.forgeline.contracts.JobStatus;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.gateway.models.ModelCatalog;
import dev.forgeline.gateway.platform.Platform;
import dev.forgeline.gateway.protocol.ApiError;
import dev.forgeline.gateway.protocol.FineTuningProtocol.Forge;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJob;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobCheckpoint;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobCheckpointList;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobEvent;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobEventList;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobList;
import dev.forgeline.gateway.protocol.FineTuningProtocol.FineTuningJobRequest;
import dev.forgeline.gateway.protocol.FineTuningProtocol.HyperparametersOut;
import dev.forgeline.gateway.protocol.FineTuningProtocol.JobError;
import dev.forgeline.gateway.protocol.FineTuningProtocol.MethodOut;
import dev.forgeline.gateway.protocol.FineTuningProtocol.ResolvedHyperparameters;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.PlatformView;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * OpenAI fine-tuning jobs on Forgeline's pipeline. A job is a {@link TrainingRequest} on
 * {@code forge.training.requests} with {@code then: [eval, deploy]}, keyed by its {@code ftjob-} id;
 * the trainer chains the eval job {@code {id}-eval}, whose gate approves or rejects the model. What
 * the caller asked for is kept in the artifact store ({@code fine_tuning/jobs/{id}/job.json});
 * where the job stands is read from the platform's topics ({@link Platform#view()}), so every
 * gateway replica answers the same.
 */
@ApplicationScoped
public class FineTuningJobs {
    static final String DIR = "fine_tuning/jobs/";
    static final Pattern ID = Pattern.compile("ftjob-[A-Za-z0-9]{1,64}");
    /** Without a validation file, every HELD_OUT_EVERY-th example of the training file is held out. */
    static final int HELD_OUT_EVERY = 10;
    /** The trainer's default peak learning rate: the rate {@code learning_rate_multiplier} scales. */
    static final double BASE_LEARNING_RATE = TrainingRequest.of("x", "x", "x").learningRate();
    static final String ORGANIZATION = "forgeline";

    private static final ObjectMapper JSON = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** What the store keeps of a job: the job as created and the model id it will register. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record JobRecord(FineTuningJob job, String model_id, long created_ms) {}

    @Inject
    ArtifactStore store;

    /** Job records read so far, by id: a record is written once, at create, so a list reads each file once. */
    private final Map<String, JobRecord> records = new ConcurrentHashMap<>();

    @Inject
    TrainingFiles files;

    @Inject
    Platform platform;

    @Inject
    ModelCatalog catalog;

    // ---------------------------------------------------------------- create, cancel

    public FineTuningJob create(FineTuningJobRequest req) {
        req.validate();
        if (catalog.find(req.model()).filter(m -> !m.isRemote()).isEmpty()) {
            throw new ApiError(400, "invalid_request_error", "Model '" + req.model() + "' is not available for"
                    + " fine-tuning: it is not a model this gateway serves in-process", "model", "model_not_available", null);
        }
        TrainingFileCheck.Kind kind = req.dpo() ? TrainingFileCheck.Kind.PREFERENCE : TrainingFileCheck.Kind.CHAT;
        List<String> train = examples("training_file", req.training_file(), kind);
        List<String> test;
        if (req.validation_file() != null) {
            test = examples("validation_file", req.validation_file(), kind);
        } else {
            if (train.size() < 2) {
                throw ApiError.invalid("training_file", "Without a validation_file the training file needs at least"
                        + " 2 examples: part of it is held out to judge the model");
            }
            List<String> kept = new ArrayList<>();
            test = new ArrayList<>();
            for (int i = 0; i < train.size(); i++) {
                (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 ? test : kept).add(train.get(i));
            }
            if (test.isEmpty()) {
                test.add(kept.remove(kept.size() - 1));
            }
            train = kept;
        }
        String id = "ftjob-" + TrainingFiles.randomId(24);
        String modelId = "ft:" + req.model().replaceAll("[^A-Za-z0-9._-]", "-") + ":"
                + (req.suffix() == null ? "" : req.suffix()) + ":" + id;
        TrainingRequest training = trainingRequest(id, modelId, req);
        List<FieldError> errors = training.validate();
        if (!errors.isEmpty()) {
            throw ApiError.invalid("forge", "Invalid training settings: " + errors.stream().map(String::valueOf)
                    .collect(Collectors.joining("; ")));
        }
        Instant now = Instant.now();
        HyperparametersOut hyperparameters = new HyperparametersOut(training.epochs(),
                training.microBatchSize() * training.gradientAccumulationSteps(),
                training.learningRate() / BASE_LEARNING_RATE);
        FineTuningJob job = new FineTuningJob(id, "fine_tuning.job", now.getEpochSecond(), null, req.model(), null,
                ORGANIZATION, "queued", hyperparameters, req.training_file(), req.validation_file(), List.of(), null,
                null, training.seed(), null, req.metadata() == null ? Map.of() : req.metadata(),
                req.dpo() ? MethodOut.dpo(hyperparameters, training.beta()) : MethodOut.supervised(hyperparameters), null,
                req.suffix());
        try {
            store.write("datasets/" + id + "/train.jsonl", jsonl(train));
            store.write("datasets/" + id + "/test.jsonl", jsonl(test));
            store.write(DIR + id + "/job.json", JSON.writeValueAsBytes(new JobRecord(job, modelId, now.toEpochMilli())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            platform.publish(Topics.TRAINING_REQUESTS, id, training);
        } catch (RuntimeException e) {
            forget(id); // no request went out: no job to report
            throw e;
        }
        return job;
    }

    /** The training request a job becomes; package-private for the tests that read it back from Kafka. */
    static TrainingRequest trainingRequest(String id, String modelId, FineTuningJobRequest req) {
        ResolvedHyperparameters h = req.resolvedHyperparameters();
        Forge forge = req.forge() != null ? req.forge() : new Forge(null, null, null, null, null, null);
        TrainingRequest.Builder b = TrainingRequest.builder(id).then(List.of("eval", "deploy"))
                .baseModel(req.model()).dataset(id).modelId(modelId).seed(req.seed())
                .epochs(h.n_epochs()).microBatchSize(h.batch_size())
                .learningRate(h.learning_rate_multiplier() == null ? null : BASE_LEARNING_RATE * h.learning_rate_multiplier())
                .maxSteps(forge.max_steps()).maxSeqLength(forge.max_seq_length()).saveInterval(forge.save_interval());
        if (req.dpo()) { // LoRA DPO on preference pairs (the files' lines as they are: the trainer reads OpenAI's shape)
            b.method(TrainingRequest.Method.DPO).beta(h.beta());
        } else if (forge.method() != null) {
            b.method(TrainingRequest.Method.valueOf(forge.method().toUpperCase(Locale.ROOT)));
        }
        if (forge.lora() != null) {
            b.lora(new TrainingRequest.LoraSettings(forge.lora().r(), forge.lora().alpha(), forge.lora().dropout(),
                    forge.lora().target_modules()));
        }
        // Default gate: the held-out loss must beat the base model's; an accuracy check only with a set to score.
        EvalRequest.Gate gate = new EvalRequest.Gate(null, true, null, null);
        EvalSettings eval = new EvalSettings(null, null, null, null, null, null, gate);
        if (forge.eval() != null) {
            var e = forge.eval();
            var g = e.gate();
            eval = new EvalSettings(e.dataset(), e.subjects(), e.num_fewshot(), e.limit(), null, null, g == null ? gate
                    : new EvalRequest.Gate(g.max_accuracy_drop(), g.held_out_must_beat_base(), g.min_accuracy(),
                            g.max_held_out_loss()));
        }
        return b.eval(eval).build();
    }

    /**
     * Asks the trainer and the evaluator to stop the job (both: a cancel can cross the moment the
     * training step ends and the eval step starts). Cancelling is asynchronous, as in OpenAI's API:
     * the job reads {@code cancelled} once a worker has stopped it.
     */
    public FineTuningJob cancel(String id) {
        JobRecord r = record(id);
        FineTuningJob now = describe(r);
        if (List.of("succeeded", "failed", "cancelled").contains(now.status())) {
            throw ApiError.invalid(null, "Job " + id + " has already finished (" + now.status() + ") and cannot be cancelled");
        }
        platform.publish(Topics.JOB_CANCELS, id, JobCancel.of(id, "cancelled through the fine-tuning API"));
        platform.publish(Topics.JOB_CANCELS, id + "-eval", JobCancel.of(id + "-eval", "cancelled through the fine-tuning API"));
        return now;
    }

    // ---------------------------------------------------------------- reads

    public FineTuningJob get(String id) {
        return describe(record(id));
    }

    /** Newest first; {@code after} is the id of the last job of the previous page. */
    public FineTuningJobList list(String after, int limit, Map<String, String> metadata) {
        List<JobRecord> all = new ArrayList<>();
        try {
            for (String path : store.list(DIR)) {
                String id = path.endsWith("/job.json") ? path.substring(DIR.length(), path.length() - "/job.json".length()) : "";
                if (ID.matcher(id).matches()) { // listed, so it exists: no second look
                    read(id).ifPresent(all::add);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        all.sort(Comparator.comparingLong(JobRecord::created_ms).thenComparing(r -> r.job().id()).reversed());
        List<JobRecord> matching = all.stream().filter(r -> metadata.entrySet().stream()
                .allMatch(m -> m.getValue().equals(r.job().metadata().get(m.getKey())))).toList();
        Page<JobRecord> page = Page.of(matching, r -> r.job().id(), after, limit);
        return FineTuningJobList.of(page.items().stream().map(this::describe).toList(), page.hasMore());
    }

    /** The job's story, newest first: training (progress, checkpoints), evaluation, the verdict. */
    public FineTuningJobEventList events(String id, String after, int limit) {
        JobRecord r = record(id);
        PlatformView view = platform.view();
        List<FineTuningJobEvent> events = new ArrayList<>();
        events.add(FineTuningJobEvent.of("ftevent-" + id + "-created", r.job().created_at(), "info",
                "Created fine-tuning job: " + id, "message", Map.of()));
        for (JobEvent e : view.events(id)) {
            events.add(event(e, false, r.model_id()));
        }
        for (JobEvent e : view.events(id + "-eval")) {
            events.add(event(e, true, r.model_id()));
        }
        FineTuningJob job = describe(r, view);
        if (job.status().equals("succeeded")) {
            events.add(FineTuningJobEvent.of("ftevent-" + id + "-succeeded", job.finished_at(), "info",
                    "New fine-tuned model created: " + job.fine_tuned_model() + ". The job has successfully completed",
                    "message", Map.of()));
        } else if (job.status().equals("failed") && job.error() != null && "eval_gate_failed".equals(job.error().code())) {
            events.add(FineTuningJobEvent.of("ftevent-" + id + "-rejected", job.finished_at(), "error",
                    job.error().message(), "message", Map.of()));
        }
        Collections.reverse(events);
        Page<FineTuningJobEvent> page = Page.of(events, FineTuningJobEvent::id, after, limit);
        return FineTuningJobEventList.of(page.items(), page.hasMore());
    }

    /**
     * The training's saved checkpoints, newest first, each with the training loss last reported at
     * or before its step (and the held-out loss when one was measured at that step).
     */
    public FineTuningJobCheckpointList checkpoints(String id, String after, int limit) {
        JobRecord r = record(id);
        TreeMap<Integer, Map<String, Object>> metricsAt = new TreeMap<>();
        TreeMap<Integer, Instant> savedAt = new TreeMap<>();
        for (JobEvent e : platform.view().events(id)) {
            Integer step = number(e.data().get("step"));
            if (JobEvent.PROGRESS.equals(e.type()) && step != null) {
                metricsAt.computeIfAbsent(step, s -> new LinkedHashMap<>()).put("train_loss", e.data().get("loss"));
            } else if ("eval".equals(e.type()) && step != null) {
                metricsAt.computeIfAbsent(step, s -> new LinkedHashMap<>()).put("valid_loss", e.data().get("held_out_loss"));
            } else if (JobEvent.CHECKPOINT.equals(e.type()) && String.valueOf(e.data().get("marker")).startsWith("step-")) {
                try {
                    savedAt.put(Integer.parseInt(String.valueOf(e.data().get("marker")).substring(5)), e.timestamp());
                } catch (NumberFormatException ignored) {
                    // a marker of another form names no step
                }
            }
        }
        List<FineTuningJobCheckpoint> all = new ArrayList<>();
        savedAt.descendingMap().forEach((step, at) -> {
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("step", step);
            var trainLoss = metricsAt.headMap(step, true).descendingMap().values().stream()
                    .filter(m -> m.get("train_loss") != null).findFirst();
            trainLoss.ifPresent(m -> metrics.put("train_loss", m.get("train_loss")));
            Map<String, Object> here = metricsAt.get(step);
            if (here != null && here.get("valid_loss") != null) {
                metrics.put("valid_loss", here.get("valid_loss"));
            }
            all.add(new FineTuningJobCheckpoint("ftckpt-" + id.substring("ftjob-".length()) + "-step-" + step,
                    "fine_tuning.job.checkpoint", at == null ? r.job().created_at() : at.getEpochSecond(),
                    r.model_id() + ":ckpt-step-" + step, id, metrics, step));
        });
        Page<FineTuningJobCheckpoint> page = Page.of(all, FineTuningJobCheckpoint::id, after, limit);
        return FineTuningJobCheckpointList.of(page.items(), page.hasMore());
    }

    // ---------------------------------------------------------------- state

    private FineTuningJob describe(JobRecord r) {
        return describe(r, platform.view());
    }

    /**
     * Where the job stands, from the train job's status, then its eval job's, then the model card:
     * approved is {@code succeeded} (the model is served), rejected by the gate is {@code failed}.
     */
    static FineTuningJob describe(JobRecord r, PlatformView view) {
        FineTuningJob job = r.job();
        String id = job.id();
        Optional<JobStatus> train = view.job(id);
        if (train.isEmpty()) {
            return job.withState("queued", null, null, null, null, null);
        }
        JobStatus t = train.get();
        Long tokens = t.metrics().get("trained_tokens") instanceof Number n ? n.longValue() : null;
        switch (t.state()) {
            case QUEUED:
                return job.withState("queued", null, null, tokens, null, null);
            case RUNNING: {
                Long eta = t.metrics().get("eta_s") instanceof Number n && t.updatedAt() != null
                        ? t.updatedAt().getEpochSecond() + n.longValue() : null;
                return job.withState("running", null, null, tokens, null, eta);
            }
            case FAILED:
                return job.withState("failed", null, seconds(t), tokens,
                        new JobError("training_failed", "Training failed: " + t.error(), null), null);
            case CANCELLED:
                return job.withState("cancelled", null, seconds(t), tokens, null, null);
            default:
                break; // SUCCEEDED: the eval step decides
        }
        Optional<JobStatus> eval = view.job(id + "-eval");
        if (eval.isEmpty() || !eval.get().state().isTerminal()) {
            return job.withState("running", null, null, tokens, null, null);
        }
        JobStatus e = eval.get();
        if (e.state() == JobState.FAILED) {
            return job.withState("failed", null, seconds(e), tokens,
                    new JobError("evaluation_failed", "Evaluation failed: " + e.error(), null), null);
        }
        if (e.state() == JobState.CANCELLED) {
            return job.withState("cancelled", null, seconds(e), tokens, null, null);
        }
        ModelCard.Status card = view.model(r.model_id()).map(ModelCard::status).orElse(null);
        if (card == ModelCard.Status.APPROVED) {
            return job.withState("succeeded", r.model_id(), seconds(e), tokens, null, null);
        }
        if (card == ModelCard.Status.REJECTED) {
            return job.withState("failed", null, seconds(e), tokens, new JobError("eval_gate_failed",
                    "The fine-tuned model did not pass its evaluation gate, so it is not served: "
                            + e.result().getOrDefault("gate_reason", "no reason given"), null), null);
        }
        return job.withState("running", null, null, tokens, null, null); // the verdict's card is on its way
    }

    private static Long seconds(JobStatus s) {
        return s.updatedAt() == null ? null : s.updatedAt().getEpochSecond();
    }

    /** One of the platform's job events as OpenAI's event. */
    static FineTuningJobEvent event(JobEvent e, boolean evalStep, String modelId) {
        Map<String, Object> d = e.data();
        String level = "info";
        String type = "message";
        String message;
        switch (e.type()) {
            case JobEvent.STATE -> {
                String state = String.valueOf(d.get("state"));
                String step = evalStep ? "Evaluation" : "Training";
                message = switch (state) {
                    case "RUNNING" -> evalStep ? "Evaluating " + modelId + " against its base model"
                            : e.attempt() > 1 ? "Fine-tuning job resumed (attempt " + e.attempt() + ")" : "Fine-tuning job started";
                    case "SUCCEEDED" -> step + " finished";
                    case "CANCELLED" -> step + " cancelled";
                    case "FAILED" -> step + " failed: " + d.get("error");
                    default -> step + " " + state.toLowerCase(Locale.ROOT);
                };
                if (state.equals("FAILED")) {
                    level = "error";
                }
            }
            case JobEvent.PROGRESS -> {
                type = "metrics";
                message = evalStep ? "Evaluation progress " + d
                        : "Step " + d.get("step") + "/" + d.get("total_steps") + ": training loss=" + d.get("loss");
            }
            case JobEvent.CHECKPOINT -> message = "Checkpoint saved at " + d.get("marker");
            case "eval" -> {
                type = "metrics";
                message = "Step " + d.get("step") + ": held-out loss=" + d.get("held_out_loss");
            }
            case "resume" -> {
                message = "Resuming from step " + d.get("from_step");
                if (d.containsKey("warning")) {
                    level = "warn";
                }
            }
            default -> message = e.type() + " " + d;
        }
        String id = "ftevent-" + e.jobId() + "-" + e.attempt() + "-" + e.seq();
        long at = e.timestamp() == null ? 0 : e.timestamp().getEpochSecond();
        return FineTuningJobEvent.of(id, at, level, message, type, d);
    }

    // ---------------------------------------------------------------- store

    private Optional<JobRecord> find(String id) {
        if (!ID.matcher(id).matches() || !store.exists(DIR + id + "/job.json")) {
            records.remove(id);
            return Optional.empty();
        }
        return read(id);
    }

    /** The record of a job whose job.json exists, from {@link #records} once read. */
    private Optional<JobRecord> read(String id) {
        JobRecord known = records.get(id);
        if (known != null) {
            return Optional.of(known);
        }
        try {
            JobRecord read = JSON.readValue(store.read(DIR + id + "/job.json"), JobRecord.class);
            records.put(id, read);
            return Optional.of(read);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private JobRecord record(String id) {
        return find(id).orElseThrow(() -> new ApiError(404, "invalid_request_error",
                "No such fine-tuning job: " + id, "fine_tuning_job_id", "fine_tuning_job_not_found", null));
    }

    private List<String> examples(String param, String fileId, TrainingFileCheck.Kind kind) {
        if (files.find(fileId).isEmpty()) {
            throw new ApiError(400, "invalid_request_error", "Invalid " + param + ": no file " + fileId, param,
                    "invalid_file", null);
        }
        return TrainingFileCheck.examples(files.content(fileId), kind);
    }

    private void forget(String id) {
        records.remove(id);
        try {
            store.delete(DIR + id);
            store.delete("datasets/" + id);
        } catch (IOException ignored) {
            // leftovers name no job: nothing lists them
        }
    }

    private static byte[] jsonl(List<String> lines) {
        return (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static Integer number(Object o) {
        return o instanceof Number n ? n.intValue() : null;
    }

    /** One page of a newest-first list: the items after {@code after} (an id on the list), at most {@code limit}. */
    record Page<T>(List<T> items, boolean hasMore) {
        static <T> Page<T> of(List<T> all, Function<T, String> id, String after, int limit) {
            int from = 0;
            if (after != null) {
                from = -1;
                for (int i = 0; i < all.size() && from < 0; i++) {
                    if (id.apply(all.get(i)).equals(after)) {
                        from = i + 1;
                    }
                }
                if (from < 0) {
                    throw ApiError.invalid("after", "'after' names no item of this list: " + after);
                }
            }
            int to = Math.min(all.size(), from + limit);
            return new Page<>(List.copyOf(all.subList(Math.min(from, to), to)), to < all.size());
        }
    }
}
