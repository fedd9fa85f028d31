package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * Evaluate a model on an MMLU-style multiple-choice set and/or its held-out loss on a chat
 * dataset ({@code forge.eval.requests}), compare it with its base model on the same items, and
 * judge it with a {@link Gate}. {@code then: [deploy]} approves the model when the gate passes.
 *
 * @param model          model to evaluate: a registry id, a base model name, a folder or {@code file:} URI (required)
 * @param baseModel      model to compare with on the same items; no comparison when omitted
 * @param dataset        MMLU-style set: a folder of {@code {subject}_{dev|test}.csv} (the original layout), a headered CSV or JSONL
 * @param subjects       subjects to run; every subject in the set when empty
 * @param numFewshot     examples from the subject's dev split, in file order, before each question (default 5)
 * @param limit          optional cap on test questions per subject (the first ones in file order)
 * @param mode           loglikelihood (default, as lm-evaluation-harness) or generate (chat template, greedy answer)
 * @param maxNewTokens   generate mode: tokens the model may write per answer (default 32)
 * @param heldOutDataset chat dataset (id or URI) whose test split gives the held-out loss
 * @param gate           thresholds that decide approval; {@link Gate#defaults()} when omitted
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record EvalRequest(
        String jobId,
        int schemaVersion,
        List<String> then,
        String model,
        String baseModel,
        String dataset,
        List<String> subjects,
        Integer numFewshot,
        Integer limit,
        Mode mode,
        Integer maxNewTokens,
        String heldOutDataset,
        Gate gate) implements JobRequest {

    public enum Mode {
        @JsonProperty("loglikelihood") LOGLIKELIHOOD,
        @JsonProperty("generate") GENERATE
    }

    /**
     * The model passes when every check that applies holds; a check whose numbers are missing
     * (no base model, no held-out set) is skipped and the report says so.
     *
     * @param maxAccuracyDrop     base accuracy minus the model's accuracy at most this (default 0.02)
     * @param heldOutMustBeatBase held-out loss strictly below the base model's (default true)
     * @param minAccuracy         accuracy at least this (0..1); unset: no floor
     * @param maxHeldOutLoss      held-out loss at most this; unset: no ceiling
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Gate(Double maxAccuracyDrop, Boolean heldOutMustBeatBase, Double minAccuracy, Double maxHeldOutLoss) {
        public Gate {
            if (maxAccuracyDrop == null) maxAccuracyDrop = 0.02;
            if (heldOutMustBeatBase == null) heldOutMustBeatBase = true;
        }

        public static Gate defaults() {
            return new Gate(null, null, null, null);
        }

        public List<FieldError> validate() {
            return new FieldChecks()
                    .between("max_accuracy_drop", maxAccuracyDrop, 0, 1)
                    .between("min_accuracy", minAccuracy, 0, 1)
                    .positive("max_held_out_loss", maxHeldOutLoss)
                    .errors();
        }
    }

    public EvalRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        subjects = subjects == null ? List.of() : List.copyOf(subjects);
        if (numFewshot == null) numFewshot = 5;
        if (mode == null) mode = Mode.LOGLIKELIHOOD;
        if (maxNewTokens == null) maxNewTokens = 32;
        if (gate == null) gate = Gate.defaults();
    }

    public static EvalRequest of(String jobId, String model, String dataset) {
        return new EvalRequest(jobId, SchemaVersion.CURRENT, null, model, null, dataset, null, null, null, null, null,
                null, null);
    }

    /** The eval step that follows a training job: its settings, on the model that job made. */
    public static EvalRequest after(EvalSettings s, String jobId, List<String> then, String model, String baseModel,
            String heldOutDataset) {
        return new EvalRequest(jobId, SchemaVersion.CURRENT, then, model, baseModel, s.dataset(), s.subjects(),
                s.numFewshot(), s.limit(), s.mode(), s.maxNewTokens(), heldOutDataset, s.gate());
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .required("model", model)
                .nonBlankEntries("subjects", subjects)
                .between("num_fewshot", numFewshot, 0, 100)
                .atLeast("limit", limit, 1)
                .between("max_new_tokens", maxNewTokens, 1, 4096);
        if (dataset == null && heldOutDataset == null) c.fail("dataset", "required (or held_out_dataset)");
        if (then.contains("train") || then.contains("eval")) c.fail("then", "an eval request can only be followed by 'deploy'");
        c.addAll("gate", gate.validate());
        return c.errors();
    }
}
