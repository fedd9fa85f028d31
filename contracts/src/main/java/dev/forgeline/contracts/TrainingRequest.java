package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * Fine-tune a base model on a chat dataset ({@code forge.training.requests}). Omitted fields get
 * the defaults below; {@link #validate()} reports what is out of range.
 *
 * @param baseModel     artifact URI, local path or Hub id of a Hugging Face-format model (required)
 * @param dataset       dataset id or URI of a folder with {@code train.jsonl} and {@code test.jsonl} (required)
 * @param method        lora (default), full, freeze (train the last {@code trainableLayers} layers and the head), or
 *                      dpo (Direct Preference Optimization with LoRA on a preference dataset: TRL's
 *                      {@code prompt}/{@code chosen}/{@code rejected} JSONL; the reference is the base model)
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
        Double maxGradNorm,
        Double weightDecay,
        Long seed,
        Integer evalInterval,
        Integer saveInterval,
        LossOn lossOn,
        String modelId,
        EvalSettings eval,
        Double beta,
        Double alpha) implements JobRequest {

    public enum Method {
        @JsonProperty("lora") LORA,
        @JsonProperty("full") FULL,
        @JsonProperty("freeze") FREEZE,
        @JsonProperty("dpo") DPO
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
        if (maxGradNorm == null) maxGradNorm = 1.0;
        if (weightDecay == null) weightDecay = 0.0;
        if (seed == null) seed = 42L;
        if (evalInterval == null) evalInterval = 50;
        if (saveInterval == null) saveInterval = 100;
        if (lossOn == null) lossOn = LossOn.ASSISTANT;
    }

    /** A request with every optional field at its default. */
    public static TrainingRequest of(String jobId, String baseModel, String dataset) {
        return builder(jobId).baseModel(baseModel).dataset(dataset).build();
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .required("base_model", baseModel)
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
        if (then.contains("train")) c.fail("then", "a training request cannot be followed by another 'train' step");
        if (then.contains("deploy") && !then.contains("eval")) {
            c.fail("then", "'deploy' needs an 'eval' step before it: the eval gate decides what is served");
        }
        if (then.contains("eval") && eval == null) c.fail("eval", "required when then names 'eval' (at least a dataset or a gate)");
        if (eval != null) c.addAll("eval", eval.validate());
        if (method == Method.FREEZE) c.atLeast("trainable_layers", trainableLayers, 1);
        if (method == Method.LORA || method == Method.DPO) c.addAll("lora", lora.validate());
        if (method == Method.DPO) {
            c.positive("beta", beta).nonNegative("alpha", alpha);
            if (packing) c.fail("packing", "dpo does not pack pairs; packing must be false");
        } else {
            if (beta != null) c.fail("beta", "only for method dpo");
            if (alpha != null) c.fail("alpha", "only for method dpo");
        }
        return c.errors();
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
        b.maxSeqLength = maxSeqLength; b.packing = packing; b.maxGradNorm = maxGradNorm; b.weightDecay = weightDecay;
        b.seed = seed; b.evalInterval = evalInterval; b.saveInterval = saveInterval; b.lossOn = lossOn; b.modelId = modelId; b.eval = eval;
        b.beta = beta; b.alpha = alpha;
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
        private Boolean packing;
        private Long seed;
        private LossOn lossOn;
        private EvalSettings eval;

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

        public TrainingRequest build() {
            return new TrainingRequest(jobId, SchemaVersion.CURRENT, then, baseModel, dataset, method, trainableLayers,
                    lora, epochs, maxSteps, learningRate, scheduler, warmupRatio, microBatchSize,
                    gradientAccumulationSteps, maxSeqLength, packing, maxGradNorm, weightDecay, seed, evalInterval,
                    saveInterval, lossOn, modelId, eval, beta, alpha);
        }
    }
}
