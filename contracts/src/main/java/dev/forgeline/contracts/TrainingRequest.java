package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Fine-tune a base model on a chat dataset, or average models ({@code forge.training.requests}).
 * Omitted fields get the defaults below; {@link #validate()} reports what is out of range.
 *
 * <p>Chains: {@code then: ["train"]} with the next training step's settings in {@link #train}
 * (a nested request) runs that step when this one succeeds; see {@link #nextTraining(String)} for
 * what the chain fills in. The steps after it are the nested request's own {@code then}, so a
 * request whose {@code then} names {@code train} names nothing else, and {@code eval} settings
 * belong on the last training step of the chain.
 *
 * @param baseModel     artifact URI, local path or Hub id of a Hugging Face-format model (required; for
 *                      method average, default: the base model on the first model's registry card, or the
 *                      first model itself when it has no card)
 * @param dataset       dataset id or URI of a folder with {@code train.jsonl} and {@code test.jsonl} (required;
 *                      for method average optional: only the held-out set of an {@code eval} step after it)
 * @param method        lora (default), full, freeze (train the last {@code trainableLayers} layers and the head),
 *                      dpo (Direct Preference Optimization with LoRA on a preference dataset: TRL's
 *                      {@code prompt}/{@code chosen}/{@code rejected} JSONL; the reference is the base model), or
 *                      average (the weighted mean of {@code models}, trains nothing: the training fields below
 *                      do not apply and get no defaults)
 * @param trainableLayers freeze only: how many of the last decoder layers train (default 2)
 * @param lora          LoRA settings (method lora only)
 * @param epochs        passes over the training set (default 3)
 * @param maxSteps      optional cap on optimizer steps; when set, training stops there whatever {@code epochs} says
 * @param learningRate  peak learning rate (default 2e-4)
 * @param scheduler     constant, linear or cosine (default) decay after warmup
 * @param warmupRatio   fraction of the steps spent warming up linearly (default 0.03)
 * @param microBatchSize examples per forward pass (default 4)
 * @param gradientAccumulationSteps micro-batches per optimizer step (default 1)
 * @param maxSeqLength  tokens per example after the chat template; longer ones are truncated (default 512)
 * @param packing       pack short examples into full sequences without cross-example attention (default false)
 * @param gradientCheckpointing keep only each decoder layer's input in the forward and recompute the layer in
 *                      the backward, as TRL's {@code gradient_checkpointing}: less memory for about a third more
 *                      compute (default false)
 * @param maxGradNorm   global gradient clipping norm (default 1.0)
 * @param weightDecay   AdamW decoupled weight decay (default 0.0)
 * @param seed          seeds data order, dropout and initialisation (default 42)
 * @param evalInterval  optimizer steps between held-out evaluations (default 50; 0 = only at the end)
 * @param saveInterval  optimizer steps between checkpoints (default 100; 0 = only at the end)
 * @param lossOn        assistant (default: loss on assistant tokens only) or all
 * @param modelId       optional id of the resulting model; the trainer derives one from the job id otherwise
 * @param eval          the eval step's settings; required when {@code then} names {@code eval}
 * @param beta          dpo only: DPO's beta, how far the policy may move from the reference (default 0.1)
 * @param alpha         dpo only: coefficient of an NLL term on the chosen reply, per token (default 0: plain DPO)
 * @param models        average only: two or more merged models of one base and shape, each with a weight
 *                      (default equal); PEFT adapter folders are refused. In a chain, default: this step's base
 *                      model and the previous step's model ({@link #nextTraining(String)})
 * @param train         the next training step's settings when {@code then} names {@code train} (a nested
 *                      request; its job id is derived, see {@link #nextTraining(String)})
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TrainingRequest(
        String jobId,
        int schemaVersion,
        List<String> then,
        String baseModel,
        String dataset,
        Method method,
        Integer trainableLayers,
        LoraSettings lora,
        Integer epochs,
        Integer maxSteps,
        Double learningRate,
        Scheduler scheduler,
        Double warmupRatio,
        Integer microBatchSize,
        Integer gradientAccumulationSteps,
        Integer maxSeqLength,
        Boolean packing,
        Boolean gradientCheckpointing,
        Double maxGradNorm,
        Double weightDecay,
        Long seed,
        Integer evalInterval,
        Integer saveInterval,
        LossOn lossOn,
        String modelId,
        EvalSettings eval,
        Double beta,
        Double alpha,
        List<WeightedModel> models,
        TrainingRequest train) implements JobRequest {

    public enum Method {
        @JsonProperty("lora") LORA,
        @JsonProperty("full") FULL,
        @JsonProperty("freeze") FREEZE,
        @JsonProperty("dpo") DPO,
        @JsonProperty("average") AVERAGE;

        /** The name in JSON: lora, full, freeze, dpo, average. */
        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Scheduler {
        @JsonProperty("constant") CONSTANT,
        @JsonProperty("linear") LINEAR,
        @JsonProperty("cosine") COSINE
    }

    public enum LossOn {
        @JsonProperty("assistant") ASSISTANT,
        @JsonProperty("all") ALL
    }

    /**
     * @param targetModules module names (e.g. {@code q_proj}) that get adapters; default every linear
     *                      projection of a Llama-family layer ({@link #ALL_LINEAR}), lm_head excluded as in PEFT
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LoraSettings(Integer r, Double alpha, Double dropout, List<String> targetModules) {
        public static final List<String> ALL_LINEAR =
                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

        public LoraSettings {
            if (r == null) r = 8;
            if (alpha == null) alpha = r > 0 ? 2.0 * r : 16.0; // the common alpha = 2r; an invalid r is reported once
            if (dropout == null) dropout = 0.05;
            targetModules = targetModules == null || targetModules.isEmpty() ? ALL_LINEAR : List.copyOf(targetModules);
        }

        public static LoraSettings defaults() {
            return new LoraSettings(null, null, null, null);
        }

        public List<FieldError> validate() {
            return new FieldChecks()
                    .positive("r", r)
                    .positive("alpha", alpha)
                    .inRange("dropout", dropout, 0, 1)
                    .nonBlankEntries("target_modules", targetModules)
                    .errors();
        }
    }

    public TrainingRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        if (method == null) method = Method.LORA;
        models = models == null ? null : Collections.unmodifiableList(new ArrayList<>(models)); // nulls are reported
        // an average trains nothing: no training defaults, so that validate() can name what does not apply
        if (method != Method.AVERAGE) {
            if (trainableLayers == null && method == Method.FREEZE) trainableLayers = 2;
            if (lora == null && (method == Method.LORA || method == Method.DPO)) lora = LoraSettings.defaults();
            if (method == Method.DPO) {
                if (beta == null) beta = 0.1;
                if (alpha == null) alpha = 0.0;
            }
            if (epochs == null) epochs = 3;
            if (learningRate == null) learningRate = 2e-4;
            if (scheduler == null) scheduler = Scheduler.COSINE;
            if (warmupRatio == null) warmupRatio = 0.03;
            if (microBatchSize == null) microBatchSize = 4;
            if (gradientAccumulationSteps == null) gradientAccumulationSteps = 1;
            if (maxSeqLength == null) maxSeqLength = 512;
            if (packing == null) packing = false;
            if (gradientCheckpointing == null) gradientCheckpointing = false;
            if (maxGradNorm == null) maxGradNorm = 1.0;
            if (weightDecay == null) weightDecay = 0.0;
            if (seed == null) seed = 42L;
            if (evalInterval == null) evalInterval = 50;
            if (saveInterval == null) saveInterval = 100;
            if (lossOn == null) lossOn = LossOn.ASSISTANT;
        }
    }

    /** A request with every optional field at its default. */
    public static TrainingRequest of(String jobId, String baseModel, String dataset) {
        return builder(jobId).baseModel(baseModel).dataset(dataset).build();
    }

    /** The id of the model this job registers: {@code model_id}, else {@code ft-{job_id}}. */
    public String outputModelId() {
        return modelId != null ? modelId : "ft-" + jobId;
    }

    /**
     * The next training step of the chain ({@code then: ["train"]}): {@link #train}'s settings under the
     * job id {@code {job_id}-{method}} (e.g. {@code r1-dpo}, then {@code r1-dpo-average}), the same on
     * every attempt, so a redelivered job sends one next step. Where the nested request leaves them out,
     * its {@code base_model} is this job's model ({@link #outputModelId()}; except for average, whose base
     * comes from its first model), and an average's {@code models} are {@code [baseModelUsed, this job's
     * model]} with equal weights.
     *
     * @param baseModelUsed the base model this job ran on (for an average, the one it resolved)
     */
    public TrainingRequest nextTraining(String baseModelUsed) {
        if (train == null) throw new IllegalStateException("job " + jobId + " has no next training step (train)");
        Builder next = train.toBuilder().jobId(jobId + "-" + train.method.wireName());
        if (train.baseModel == null && train.method != Method.AVERAGE) next.baseModel(outputModelId());
        if (train.method == Method.AVERAGE && train.models == null) {
            next.models(List.of(WeightedModel.of(baseModelUsed), WeightedModel.of(outputModelId())));
        }
        return next.build();
    }

    /**
     * These settings as the training step of a job that made its dataset (datagen, rejection
     * sampling): under {@code jobId} on {@code dataset}, followed by {@code rest}, that job's steps
     * after {@code train}, or, when there are none, by this request's own {@code then} (a chain).
     */
    public TrainingRequest asStepAfter(String jobId, String dataset, List<String> rest) {
        return toBuilder().jobId(jobId).dataset(dataset).then(rest.isEmpty() ? then : rest).build();
    }

    /**
     * This chain with {@code preferenceDataset} as the dataset of every {@code dpo} step (this one and
     * the nested {@link #train} steps) that has none; for a job that makes the preference set after
     * the request was written (rejection sampling).
     */
    public TrainingRequest withDatasetWhereMissing(String preferenceDataset) {
        Builder b = toBuilder();
        if (method == Method.DPO && dataset == null) b.dataset(preferenceDataset);
        if (train != null) b.train(train.withDatasetWhereMissing(preferenceDataset));
        return b.build();
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then);
        if (method == Method.AVERAGE) {
            validateAverage(c);
        } else {
            validateTraining(c);
        }
        validateChain(c);
        return c.errors();
    }

    private void validateAverage(FieldChecks c) {
        if (models == null || models.size() < 2) {
            c.fail("models", "method average needs two or more models, got " + (models == null ? 0 : models.size()));
        }
        for (int i = 0; models != null && i < models.size(); i++) {
            String at = "models[" + i + "]";
            WeightedModel m = models.get(i);
            if (m == null) {
                c.fail(at, "required");
                continue;
            }
            c.required(at + ".model", m.model());
            if (!(m.weight() > 0) || Double.isInfinite(m.weight())) c.fail(at + ".weight", "must be a positive number");
        }
        String why = "does not apply to method average: it trains nothing";
        c.absent("trainable_layers", trainableLayers, why).absent("lora", lora, why).absent("epochs", epochs, why)
                .absent("max_steps", maxSteps, why).absent("learning_rate", learningRate, why)
                .absent("scheduler", scheduler, why).absent("warmup_ratio", warmupRatio, why)
                .absent("micro_batch_size", microBatchSize, why)
                .absent("gradient_accumulation_steps", gradientAccumulationSteps, why)
                .absent("max_seq_length", maxSeqLength, why).absent("packing", packing, why)
                .absent("gradient_checkpointing", gradientCheckpointing, why)
                .absent("max_grad_norm", maxGradNorm, why).absent("weight_decay", weightDecay, why)
                .absent("seed", seed, why).absent("eval_interval", evalInterval, why)
                .absent("save_interval", saveInterval, why).absent("loss_on", lossOn, why)
                .absent("beta", beta, why).absent("alpha", alpha, why);
    }

    private void validateTraining(FieldChecks c) {
        c.required("base_model", baseModel)
                .required("dataset", dataset)
                .atLeast("epochs", epochs, 1)
                .atLeast("max_steps", maxSteps, 1)
                .positive("learning_rate", learningRate)
                .inRange("warmup_ratio", warmupRatio, 0, 1)
                .atLeast("micro_batch_size", microBatchSize, 1)
                .atLeast("gradient_accumulation_steps", gradientAccumulationSteps, 1)
                .atLeast("max_seq_length", maxSeqLength, 2)
                .positive("max_grad_norm", maxGradNorm)
                .nonNegative("weight_decay", weightDecay)
                .nonNegative("eval_interval", evalInterval)
                .nonNegative("save_interval", saveInterval);
        if (models != null) c.fail("models", "only for method average");
        if (method == Method.FREEZE) c.atLeast("trainable_layers", trainableLayers, 1);
        if (method == Method.LORA || method == Method.DPO) c.addAll("lora", lora.validate());
        if (method == Method.DPO) {
            c.positive("beta", beta).nonNegative("alpha", alpha);
            if (packing) c.fail("packing", "dpo does not pack pairs; packing must be false");
        } else {
            if (beta != null) c.fail("beta", "only for method dpo");
            if (alpha != null) c.fail("alpha", "only for method dpo");
        }
    }

    /** The steps after this one, and the nested training step as the request it becomes. */
    private void validateChain(FieldChecks c) {
        if (then.contains("train")) {
            if (then.size() > 1) {
                c.fail("then", "'train' hands the rest of the chain to the next training step: then must be [\"train\"]"
                        + " and the steps after it go in train.then");
            }
            if (eval != null) c.fail("eval", "belongs on the last training step of the chain, the one whose then names 'eval'");
            if (train == null) {
                c.fail("train", "required when then names 'train' (the next step's settings, at least its method)");
            } else {
                // an average's base is only known at run time; any stand-in serves to check the rest
                String base = baseModel != null ? baseModel : "the base of models[0]";
                c.addAll("train", nextTraining(base).validate());
            }
        } else if (train != null) {
            c.fail("train", "only when then names 'train'");
        }
        if (then.contains("deploy") && !then.contains("eval")) {
            c.fail("then", "'deploy' needs an 'eval' step before it: the eval gate decides what is served");
        }
        if (then.contains("eval") && eval == null) c.fail("eval", "required when then names 'eval' (at least a dataset or a gate)");
        if (eval != null) {
            c.addAll("eval", eval.validate());
            if (method == Method.AVERAGE && then.contains("eval") && eval.dataset() == null && dataset == null) {
                c.fail("eval.dataset", "required: this step has no dataset whose test split could be the held-out set");
            }
        }
    }

    public static Builder builder(String jobId) {
        return new Builder().jobId(jobId);
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.jobId = jobId; b.then = then; b.baseModel = baseModel; b.dataset = dataset; b.method = method;
        b.trainableLayers = trainableLayers; b.lora = lora; b.epochs = epochs; b.maxSteps = maxSteps;
        b.learningRate = learningRate; b.scheduler = scheduler; b.warmupRatio = warmupRatio;
        b.microBatchSize = microBatchSize; b.gradientAccumulationSteps = gradientAccumulationSteps;
        b.maxSeqLength = maxSeqLength; b.packing = packing; b.gradientCheckpointing = gradientCheckpointing; b.maxGradNorm = maxGradNorm; b.weightDecay = weightDecay;
        b.seed = seed; b.evalInterval = evalInterval; b.saveInterval = saveInterval; b.lossOn = lossOn; b.modelId = modelId; b.eval = eval;
        b.beta = beta; b.alpha = alpha; b.models = models; b.train = train;
        return b;
    }

    /** Fields left unset get their defaults in {@link #build()}. */
    public static final class Builder {
        private String jobId, baseModel, dataset, modelId;
        private List<String> then;
        private Method method;
        private Integer trainableLayers, epochs, maxSteps, microBatchSize, gradientAccumulationSteps, maxSeqLength,
                evalInterval, saveInterval;
        private LoraSettings lora;
        private Double learningRate, warmupRatio, maxGradNorm, weightDecay, beta, alpha;
        private Scheduler scheduler;
        private Boolean packing, gradientCheckpointing;
        private Long seed;
        private LossOn lossOn;
        private EvalSettings eval;
        private List<WeightedModel> models;
        private TrainingRequest train;

        private Builder() {}

        public Builder jobId(String v) { jobId = v; return this; }
        public Builder then(List<String> v) { then = v; return this; }
        public Builder baseModel(String v) { baseModel = v; return this; }
        public Builder dataset(String v) { dataset = v; return this; }
        public Builder method(Method v) { method = v; return this; }
        public Builder trainableLayers(Integer v) { trainableLayers = v; return this; }
        public Builder lora(LoraSettings v) { lora = v; return this; }
        public Builder epochs(Integer v) { epochs = v; return this; }
        public Builder maxSteps(Integer v) { maxSteps = v; return this; }
        public Builder learningRate(Double v) { learningRate = v; return this; }
        public Builder scheduler(Scheduler v) { scheduler = v; return this; }
        public Builder warmupRatio(Double v) { warmupRatio = v; return this; }
        public Builder microBatchSize(Integer v) { microBatchSize = v; return this; }
        public Builder gradientAccumulationSteps(Integer v) { gradientAccumulationSteps = v; return this; }
        public Builder maxSeqLength(Integer v) { maxSeqLength = v; return this; }
        public Builder packing(Boolean v) { packing = v; return this; }
        public Builder gradientCheckpointing(Boolean v) { gradientCheckpointing = v; return this; }
        public Builder maxGradNorm(Double v) { maxGradNorm = v; return this; }
        public Builder weightDecay(Double v) { weightDecay = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder evalInterval(Integer v) { evalInterval = v; return this; }
        public Builder saveInterval(Integer v) { saveInterval = v; return this; }
        public Builder lossOn(LossOn v) { lossOn = v; return this; }
        public Builder modelId(String v) { modelId = v; return this; }
        public Builder eval(EvalSettings v) { eval = v; return this; }
        public Builder beta(Double v) { beta = v; return this; }
        public Builder alpha(Double v) { alpha = v; return this; }
        public Builder models(List<WeightedModel> v) { models = v; return this; }
        public Builder train(TrainingRequest v) { train = v; return this; }

        public TrainingRequest build() {
            return new TrainingRequest(jobId, SchemaVersion.CURRENT, then, baseModel, dataset, method, trainableLayers,
                    lora, epochs, maxSteps, learningRate, scheduler, warmupRatio, microBatchSize,
                    gradientAccumulationSteps, maxSeqLength, packing, gradientCheckpointing, maxGradNorm, weightDecay, seed, evalInterval,
                    saveInterval, lossOn, modelId, eval, beta, alpha, models, train);
        }
    }
}
