package dev.forgeline.trainer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.EvalRequest;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.hub.HubModelResolver;
import dev.forgeline.engine.train.Checkpoint;
import dev.forgeline.engine.train.DatasetException;
import dev.forgeline.engine.train.FineTune;
import dev.forgeline.engine.train.TrainingConfig;
import dev.forgeline.engine.train.TrainingResult;
import dev.forgeline.jobs.ArtifactStore;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.jobs.JobHandler;
import dev.forgeline.jobs.JobResult;
import dev.forgeline.service.ForgeConfig;
import dev.forgeline.sources.DatasetSources;
import dev.forgeline.sources.LocalPaths;
import dev.forgeline.sources.ModelSources;
import jakarta.enterprise.context.ApplicationScoped;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Handles {@code train} jobs from {@link Topics#TRAINING_REQUESTS}: resolves the base model and the
 * dataset, runs {@link FineTune} with checkpoints in {@code checkpoints/{jobId}/} (where a resumed
 * attempt picks up), or for {@code method: average} writes the models' mean ({@link Averaging});
 * writes the model to {@code models/{modelId}/} and registers it on {@link Topics#MODELS} keyed by
 * its id, so a job run twice still registers one model. Then it publishes the next step of the
 * chain: the eval step's request (job id {@code {jobId}-eval}) on {@link Topics#EVAL_REQUESTS}, or
 * the next training step's ({@link TrainingRequest#nextTraining}, job id {@code {jobId}-{method}})
 * on {@link Topics#TRAINING_REQUESTS}; the same ids on every attempt.
 */
@ApplicationScoped
public class TrainingHandler implements JobHandler<TrainingRequest> {
    static final String RESUME = "resume";

    private final ArtifactStore store;
    private final TrainerConfig config;
    private final ModelSources baseModels;
    private final DatasetSources datasets;
    private final Averaging averaging;

    TrainingHandler(ArtifactStore store, ForgeConfig forge, TrainerConfig config) {
        this.store = store;
        this.config = config;
        this.baseModels = new ModelSources(store, forge.baseModels(), HubModelResolver::fromEnvironment, "trained");
        this.datasets = new DatasetSources(store);
        this.averaging = new Averaging(new ModelSources(store, forge.baseModels(), HubModelResolver::fromEnvironment,
                "averaged"));
    }

    @Override
    public String kind() {
        return "train";
    }

    @Override
    public String requestTopic() {
        return Topics.TRAINING_REQUESTS;
    }

    @Override
    public Class<TrainingRequest> requestType() {
        return TrainingRequest.class;
    }

    @Override
    public JobResult run(JobContext<TrainingRequest> ctx) throws Exception {
        TrainingRequest request = ctx.request();
        return request.method() == TrainingRequest.Method.AVERAGE ? average(ctx) : train(ctx);
    }

    private JobResult train(JobContext<TrainingRequest> ctx) throws Exception {
        TrainingRequest request = ctx.request();
        String modelId = modelId(request);
        TrainingConfig hyperparameters = Hyperparameters.of(request);
        ModelSources.ModelSource base = baseModels.resolve("base_model", request.baseModel());
        DatasetSources.Dataset dataset = datasets.resolve(request.dataset());
        String output = "models/" + modelId;
        refuseTakenModelId(modelId, ctx.jobId());
        Path checkpoints = local("checkpoints/" + ctx.jobId());
        reportResume(ctx, checkpoints);

        FineTune.Job job = new FineTune.Job(base.dir(), dataset.train(), dataset.heldOut(), hyperparameters, local(output),
                checkpoints, ComputeTarget.parse(config.device(), "float32").device());
        FineTune.Outcome outcome;
        try {
            outcome = FineTune.run(job, new JobProgress(ctx, config.progressEvery()), ctx::isCancelled);
        } catch (DatasetException e) {
            throw new IllegalArgumentException("dataset '" + request.dataset() + "': " + e.getMessage(), e);
        }
        TrainingResult result = outcome.result();
        JobResult summary = JobResult.empty()
                .withMetric("steps", result.steps())
                .withMetric("resumed_from_step", result.resumedFromStep())
                .withMetric("final_train_loss", result.finalTrainLoss())
                .withMetric("trained_tokens", result.trainedTokens());
        if (result.cancelled()) {
            return summary; // the runtime ends it CANCELLED; checkpoints stay for a later resume
        }

        ModelCard card = card(ctx.jobId(), modelId, request, base, outcome, output);
        writeCard(output, card, outcome.card().get("training"));
        if (result.finalHeldOutLoss() != null) {
            summary = summary.withMetric("held_out_loss", result.finalHeldOutLoss());
        }
        if (outcome.heldOut() != null) {
            summary = summary.withMetric("held_out_preference_accuracy", outcome.heldOut().accuracy());
        }
        if (hyperparameters.method() == TrainingConfig.Method.LORA) {
            summary = summary.withOutput("adapter_uri", store.uri(output + "/adapter").toString());
        }
        return registerAndContinue(ctx, card, summary);
    }

    /** method average: the models' weighted mean as a new model whose card lists every parent and weight. */
    private JobResult average(JobContext<TrainingRequest> ctx) throws Exception {
        TrainingRequest request = ctx.request();
        String modelId = modelId(request);
        String output = "models/" + modelId;
        refuseTakenModelId(modelId, ctx.jobId());
        Averaging.Averaged averaged = averaging.run(ctx, local(output));
        ModelCard card = new ModelCard(modelId, averaged.baseModel(), request.dataset(), null,
                request.method().wireName(), Map.of(), store.uri(output).toString(), null, Map.of(),
                ModelCard.Status.CANDIDATE, averaged.parent(), averaged.parents(), ctx.jobId(), createdAt(output), 0);
        writeCard(output, card, null);
        return registerAndContinue(ctx, card, JobResult.empty().withMetric("models", averaged.parents().size()));
    }

    /** Registers the model, then sends the chain's next step: eval, or the next training step. */
    private JobResult registerAndContinue(JobContext<TrainingRequest> ctx, ModelCard card, JobResult summary)
            throws Exception {
        TrainingRequest request = ctx.request();
        ctx.publish(Topics.MODELS, card.id(), card).get();
        summary = summary.withOutput("model_id", card.id()).withOutput("artifact_uri", card.artifactUri());
        if (request.then().contains("eval")) {
            EvalRequest next = nextEval(ctx.jobId(), request, card.id(), card.baseModel());
            ctx.publish(Topics.EVAL_REQUESTS, next.jobId(), next).get();
            summary = summary.withOutput("eval_job_id", next.jobId());
        }
        if (request.then().contains("train")) {
            TrainingRequest next = request.nextTraining(card.baseModel());
            ctx.publish(Topics.TRAINING_REQUESTS, next.jobId(), next).get();
            summary = summary.withOutput("train_job_id", next.jobId());
        }
        return summary;
    }

    /**
     * The eval step of the chain: the request's eval settings on the new model, compared with its
     * base on the same items, the training dataset's test split as the held-out set, and the
     * steps after {@code eval} left to do.
     */
    static EvalRequest nextEval(String jobId, TrainingRequest request, String modelId, String baseModel) {
        List<String> rest = request.stepsAfter("eval");
        return EvalRequest.after(request.eval(), jobId + "-eval", rest, modelId, baseModel, request.dataset());
    }

    /** The request's model id, else one derived from the job id: the same on every attempt. */
    static String modelId(TrainingRequest request) {
        String id = request.outputModelId();
        if (!LocalPaths.isId(id)) {
            throw new IllegalArgumentException("model_id '" + id + "' must be 1 to 200 letters, digits, '.', '_', ':' or '-'"
                    + " (it names the folder models/{model_id})");
        }
        return id;
    }

    /** A model id already registered by another job is not overwritten. */
    private void refuseTakenModelId(String modelId, String jobId) throws IOException {
        Optional<String> owner = readCard("models/" + modelId + "/card.json")
                .filter(c -> c.hasNonNull("job_id")).map(c -> c.get("job_id").asText());
        if (owner.isPresent() && !owner.get().equals(jobId)) {
            throw new IllegalArgumentException("model_id '" + modelId + "' is taken: job " + owner.get()
                    + " already wrote " + store.uri("models/" + modelId));
        }
    }

    /** The engine resumes from the newest complete checkpoint on disk; say so in the job's events. */
    private static void reportResume(JobContext<TrainingRequest> ctx, Path checkpoints) {
        Optional<Path> latest = Checkpoint.latest(checkpoints);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("attempt", ctx.attempt());
        ctx.lastCheckpoint().ifPresent(m -> data.put("recorded_checkpoint", m));
        if (latest.isPresent()) {
            String name = latest.get().getFileName().toString();
            data.put("from_step", Integer.parseInt(name.substring(name.indexOf('-') + 1)));
            ctx.event(RESUME, data);
        } else if (ctx.lastCheckpoint().isPresent()) {
            data.put("from_step", 0);
            data.put("warning", "checkpoint " + ctx.lastCheckpoint().get() + " is missing from " + checkpoints
                    + "; training starts over");
            ctx.event(RESUME, data);
        }
    }

    private ModelCard card(String jobId, String modelId, TrainingRequest request, ModelSources.ModelSource base,
            FineTune.Outcome outcome, String output) throws IOException {
        TrainingResult r = outcome.result();
        Map<String, Object> eval = new LinkedHashMap<>();
        eval.put("final_train_loss", r.finalTrainLoss());
        if (r.finalHeldOutLoss() != null) eval.put("held_out_loss", r.finalHeldOutLoss());
        if (r.initialHeldOutLoss() != null) eval.put("base_held_out_loss", r.initialHeldOutLoss());
        Object engineEval = outcome.card().get("eval");
        if (engineEval instanceof Map<?, ?> m) { // dpo: held-out preference accuracy and reward margin
            for (String key : List.of("held_out_preference_accuracy", "held_out_reward_margin",
                    "base_held_out_preference_accuracy")) {
                if (m.get(key) != null) eval.put(key, m.get(key));
            }
        }
        Object hash = outcome.card().get("dataset_hash");
        return new ModelCard(modelId, request.baseModel(), request.dataset(), hash == null ? null : hash.toString(),
                request.method().wireName(),
                castMap(outcome.card().get("hyperparameters")), store.uri(output).toString(), null, eval,
                ModelCard.Status.CANDIDATE, base.parent(), jobId, createdAt(output), 0);
    }

    /** A resumed job that already wrote its card keeps the first creation time, so it registers the same card. */
    private Instant createdAt(String output) throws IOException {
        return readCard(output + "/card.json")
                .filter(c -> c.hasNonNull("job_id") && c.hasNonNull("created_at"))
                .map(c -> Instant.parse(c.get("created_at").asText()))
                .orElseGet(Instant::now);
    }

    /** card.json is the registry card plus the engine's training details (steps, tokens, truncation counts). */
    private void writeCard(String output, ModelCard card, Object training) throws IOException {
        Map<String, Object> json = ContractsJson.mapper().convertValue(card, new TypeReference<LinkedHashMap<String, Object>>() {});
        if (training != null) json.put("training", training);
        store.write(output + "/card.json", ContractsJson.write(json).getBytes(StandardCharsets.UTF_8));
    }

    private Optional<JsonNode> readCard(String path) throws IOException {
        return store.exists(path) ? Optional.of(ContractsJson.mapper().readTree(store.read(path))) : Optional.empty();
    }

    private Path local(String path) {
        return store.localPath(path).orElseThrow(() -> new IllegalStateException("the artifact store " + store.uri()
                + " has no local files; the trainer needs a file: store"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }
}
