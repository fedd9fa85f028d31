package dev.forgeline.engine.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every hyperparameter of a fine-tuning run, resolved (no nulls except {@code maxSteps}). It
 * mirrors the fields of the contracts' {@code TrainingRequest}; the trainer service maps one to
 * the other, so this library does not depend on the message contracts.
 *
 * @param trainableLayers freeze only: the last N decoder layers train, with the final norm and the head
 * @param maxSteps        optimizer steps to run, whatever {@code epochs} says; null = epochs x steps per epoch
 * @param evalInterval    steps between held-out evaluations (0: only at the end)
 * @param saveInterval    steps between checkpoints (0: only at the end)
 * @param assistantOnly   loss on assistant replies only (true) or on every token
 * @param objective       what the steps minimise: SFT's token loss, or DPO's over preference pairs
 * @param dpoBeta         DPO's beta, the strength of the pull towards the reference (TRL's default 0.1)
 * @param dpoAlpha        DPO only: coefficient of the chosen reply's NLL per token (0: plain DPO)
 * @param maskFormatTokens DPO only: leave the chat template's special tokens out of the reply log-probs
 * @param gradientCheckpointing keep only each decoder layer's input from the forward and recompute the
 *                        layer in the backward (TRL's {@code gradient_checkpointing}): less memory, about a
 *                        third more compute
 */
public record TrainingConfig(
        Method method,
        int trainableLayers,
        LoraConfig lora,
        int epochs,
        Integer maxSteps,
        double learningRate,
        Schedule schedule,
        double warmupRatio,
        int microBatchSize,
        int gradientAccumulation,
        int maxSeqLength,
        boolean packing,
        double maxGradNorm,
        double weightDecay,
        long seed,
        int evalInterval,
        int saveInterval,
        boolean assistantOnly,
        Objective objective,
        double dpoBeta,
        double dpoAlpha,
        boolean maskFormatTokens,
        boolean gradientCheckpointing) {

    public enum Method { LORA, FULL, FREEZE }

    public enum Objective { SFT, DPO }

    public enum Schedule { CONSTANT, LINEAR, COSINE }

    /** LoRA settings; {@code targetModules} are HF module names such as q_proj (lm_head allowed). */
    public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules) {
        public static final List<String> ALL_LINEAR =
                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

        public LoraConfig {
            targetModules = targetModules == null || targetModules.isEmpty() ? ALL_LINEAR : List.copyOf(targetModules);
        }

        public static LoraConfig of(int r) {
            return new LoraConfig(r, 2.0 * r, 0.05, ALL_LINEAR);
        }
    }

    /** Fails with every invalid field named, so a job can end FAILED with one clear message. */
    public TrainingConfig validate() {
        List<String> errors = new ArrayList<>();
        if (method == null) errors.add("method is required");
        if (method == Method.FREEZE && trainableLayers < 1) errors.add("trainable_layers must be >= 1, was " + trainableLayers);
        if (method == Method.LORA) {
            if (lora == null) {
                errors.add("lora settings are required for method lora");
            } else {
                if (lora.r() <= 0) errors.add("lora.r must be > 0, was " + lora.r());
                if (!(lora.alpha() > 0)) errors.add("lora.alpha must be > 0, was " + lora.alpha());
                if (!(lora.dropout() >= 0 && lora.dropout() < 1)) errors.add("lora.dropout must be in [0, 1), was " + lora.dropout());
            }
        }
        if (epochs < 1) errors.add("epochs must be >= 1, was " + epochs);
        if (maxSteps != null && maxSteps < 1) errors.add("max_steps must be >= 1, was " + maxSteps);
        if (!(learningRate > 0)) errors.add("learning_rate must be > 0, was " + learningRate);
        if (schedule == null) errors.add("scheduler is required");
        if (!(warmupRatio >= 0 && warmupRatio <= 1)) errors.add("warmup_ratio must be in [0, 1], was " + warmupRatio);
        if (microBatchSize < 1) errors.add("micro_batch_size must be >= 1, was " + microBatchSize);
        if (gradientAccumulation < 1) errors.add("gradient_accumulation_steps must be >= 1, was " + gradientAccumulation);
        if (maxSeqLength < 2) errors.add("max_seq_length must be >= 2, was " + maxSeqLength);
        if (!(maxGradNorm > 0)) errors.add("max_grad_norm must be > 0, was " + maxGradNorm);
        if (!(weightDecay >= 0)) errors.add("weight_decay must be >= 0, was " + weightDecay);
        if (evalInterval < 0) errors.add("eval_interval must be >= 0, was " + evalInterval);
        if (saveInterval < 0) errors.add("save_interval must be >= 0, was " + saveInterval);
        if (objective == null) errors.add("objective is required");
        if (objective == Objective.DPO) {
            // The reference is the base with the adapters off; full or freeze would need a second copy.
            if (method != Method.LORA) errors.add("dpo trains LoRA adapters only, method was " + method);
            if (!(dpoBeta > 0)) errors.add("beta must be > 0, was " + dpoBeta);
            if (!(dpoAlpha >= 0)) errors.add("alpha must be >= 0, was " + dpoAlpha);
            if (packing) errors.add("dpo does not pack pairs; packing must be false");
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("invalid training configuration: " + String.join("; ", errors));
        }
        return this;
    }

    /** The hyperparameters under the request's snake_case names, for the model card. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", method.name().toLowerCase());
        if (method == Method.FREEZE) m.put("trainable_layers", trainableLayers);
        if (method == Method.LORA) {
            m.put("lora_r", lora.r());
            m.put("lora_alpha", lora.alpha());
            m.put("lora_dropout", lora.dropout());
            m.put("lora_target_modules", lora.targetModules());
        }
        m.put("epochs", epochs);
        if (maxSteps != null) m.put("max_steps", maxSteps);
        m.put("learning_rate", learningRate);
        m.put("scheduler", schedule.name().toLowerCase());
        m.put("warmup_ratio", warmupRatio);
        m.put("micro_batch_size", microBatchSize);
        m.put("gradient_accumulation_steps", gradientAccumulation);
        m.put("max_seq_length", maxSeqLength);
        m.put("packing", packing);
        m.put("max_grad_norm", maxGradNorm);
        m.put("weight_decay", weightDecay);
        m.put("seed", seed);
        m.put("eval_interval", evalInterval);
        m.put("save_interval", saveInterval);
        m.put("loss_on", assistantOnly ? "assistant" : "all");
        if (objective == Objective.DPO) {
            m.put("objective", "dpo");
            m.put("beta", dpoBeta);
            m.put("alpha", dpoAlpha);
            m.put("mask_format_tokens", maskFormatTokens);
        }
        if (gradientCheckpointing) m.put("gradient_checkpointing", true);
        return m;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.method = method; b.trainableLayers = trainableLayers; b.lora = lora; b.epochs = epochs; b.maxSteps = maxSteps;
        b.learningRate = learningRate; b.schedule = schedule; b.warmupRatio = warmupRatio;
        b.microBatchSize = microBatchSize; b.gradientAccumulation = gradientAccumulation; b.maxSeqLength = maxSeqLength;
        b.packing = packing; b.maxGradNorm = maxGradNorm; b.weightDecay = weightDecay; b.seed = seed;
        b.evalInterval = evalInterval; b.saveInterval = saveInterval; b.assistantOnly = assistantOnly;
        b.objective = objective; b.dpoBeta = dpoBeta; b.dpoAlpha = dpoAlpha; b.maskFormatTokens = maskFormatTokens;
        b.gradientCheckpointing = gradientCheckpointing;
        return b;
    }

    /** Starts from the request's documented defaults (LoRA r 8, cosine, lr 2e-4, 3 epochs...). */
    public static final class Builder {
        private Method method = Method.LORA;
        private int trainableLayers = 2;
        private LoraConfig lora = LoraConfig.of(8);
        private int epochs = 3;
        private Integer maxSteps;
        private double learningRate = 2e-4;
        private Schedule schedule = Schedule.COSINE;
        private double warmupRatio = 0.03;
        private int microBatchSize = 4;
        private int gradientAccumulation = 1;
        private int maxSeqLength = 512;
        private boolean packing;
        private double maxGradNorm = 1.0;
        private double weightDecay;
        private long seed = 42;
        private int evalInterval = 50;
        private int saveInterval = 100;
        private boolean assistantOnly = true;
        private Objective objective = Objective.SFT;
        private double dpoBeta = 0.1;
        private double dpoAlpha;
        private boolean maskFormatTokens = true;
        private boolean gradientCheckpointing;

        public Builder method(Method v) { method = v; return this; }
        public Builder trainableLayers(int v) { trainableLayers = v; return this; }
        public Builder lora(LoraConfig v) { lora = v; return this; }
        public Builder epochs(int v) { epochs = v; return this; }
        public Builder maxSteps(Integer v) { maxSteps = v; return this; }
        public Builder learningRate(double v) { learningRate = v; return this; }
        public Builder schedule(Schedule v) { schedule = v; return this; }
        public Builder warmupRatio(double v) { warmupRatio = v; return this; }
        public Builder microBatchSize(int v) { microBatchSize = v; return this; }
        public Builder gradientAccumulation(int v) { gradientAccumulation = v; return this; }
        public Builder maxSeqLength(int v) { maxSeqLength = v; return this; }
        public Builder packing(boolean v) { packing = v; return this; }
        public Builder maxGradNorm(double v) { maxGradNorm = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder evalInterval(int v) { evalInterval = v; return this; }
        public Builder saveInterval(int v) { saveInterval = v; return this; }
        public Builder assistantOnly(boolean v) { assistantOnly = v; return this; }
        public Builder objective(Objective v) { objective = v; return this; }
        public Builder dpoBeta(double v) { dpoBeta = v; return this; }
        public Builder dpoAlpha(double v) { dpoAlpha = v; return this; }
        public Builder maskFormatTokens(boolean v) { maskFormatTokens = v; return this; }
        public Builder gradientCheckpointing(boolean v) { gradientCheckpointing = v; return this; }

        public TrainingConfig build() {
            return new TrainingConfig(method, trainableLayers, lora, epochs, maxSteps, learningRate, schedule,
                    warmupRatio, microBatchSize, gradientAccumulation, maxSeqLength, packing, maxGradNorm,
                    weightDecay, seed, evalInterval, saveInterval, assistantOnly, objective, dpoBeta, dpoAlpha,
                    maskFormatTokens, gradientCheckpointing).validate();
        }
    }
}
