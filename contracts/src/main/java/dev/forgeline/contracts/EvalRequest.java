package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * Evaluate a model on an MMLU-style multiple-choice set and optionally a held-out loss set
 * ({@code forge.eval.requests}), and compare it with its base model.
 *
 * @param model          model id or artifact URI to evaluate (required)
 * @param baseModel      model to compare with; no comparison when omitted
 * @param dataset        path or URI of an MMLU-style set: a folder of {@code {subject}_{dev|test}.csv}, a headered CSV or JSONL (required)
 * @param subjects       subjects to run; every subject in the set when empty
 * @param numFewshot     examples from the dev split put before each question (default 5)
 * @param limit          optional cap on test questions per subject
 * @param heldOutDataset optional chat JSONL (dataset id or URI) for held-out loss
 * @param gate           thresholds that decide whether the model is approved; none when omitted
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
        String heldOutDataset,
        Gate gate) implements JobRequest {

    /**
     * Every threshold is optional; a model passes when it meets all the ones that are set.
     *
     * @param minAccuracy     accuracy at least this (0..1)
     * @param minGainOverBase accuracy minus the base model's accuracy at least this (may be negative: "no worse than")
     * @param maxHeldOutLoss  held-out loss at most this
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Gate(Double minAccuracy, Double minGainOverBase, Double maxHeldOutLoss) {
        public List<FieldError> validate() {
            return new FieldChecks()
                    .between("min_accuracy", minAccuracy, 0, 1)
                    .between("min_gain_over_base", minGainOverBase, -1, 1)
                    .positive("max_held_out_loss", maxHeldOutLoss)
                    .errors();
        }
    }

    public EvalRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        subjects = subjects == null ? List.of() : List.copyOf(subjects);
        if (numFewshot == null) numFewshot = 5;
    }

    public static EvalRequest of(String jobId, String model, String dataset) {
        return new EvalRequest(jobId, SchemaVersion.CURRENT, null, model, null, dataset, null, null, null, null, null);
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .required("model", model)
                .required("dataset", dataset)
                .nonBlankEntries("subjects", subjects)
                .nonNegative("num_fewshot", numFewshot)
                .atLeast("limit", limit, 1);
        if (then.contains("train") || then.contains("eval")) c.fail("then", "an eval request can only be followed by 'deploy'");
        if (gate != null) c.addAll("gate", gate.validate());
        return c.errors();
    }
}
