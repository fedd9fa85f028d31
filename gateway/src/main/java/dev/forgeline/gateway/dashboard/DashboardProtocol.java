package dev.forgeline.gateway.dashboard;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.forgeline.contracts.WeightedModel;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What the dashboard's data API ({@code /ui/api/...}) answers, one record per shape, field names in
 * snake case as the rest of the platform's JSON. Built by {@link Dashboard}; the page reads them.
 */
public final class DashboardProtocol {
    private DashboardProtocol() {}

    /** A list, OpenAI's way: {@code {"object": "list", "data": [...]}}. */
    public record ListOf<T>(String object, List<T> data) {
        public static <T> ListOf<T> of(List<T> data) {
            return new ListOf<>("list", data);
        }
    }

    /** A row of the jobs table: a job's latest status, with its age for the reader. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record JobRow(String id, String kind, String state, double progress, Map<String, Object> metrics,
            Map<String, Object> result, String error, String checkpoint, int attempt, Instant createdAt,
            Instant updatedAt, Long ageS) {}

    /** One curve: y by step, in step order. */
    public record Curve(List<Integer> step, List<Double> loss) {}

    /**
     * A job's progress events and the curves drawn from them: training loss by step (progress
     * events) and held-out loss by step (the trainer's {@code eval} events).
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record JobEvents(String jobId, String kind, String state, Curve train, Curve heldOut, int events,
            List<Map<String, Object>> latest) {}

    /** Another job of a model's chain, as the lineage names it. */
    public record JobRef(String id, String state) {}

    /**
     * A model and where it came from: task, dataset, base model (for an average, the models it is the
     * mean of and their weights), the adapter and merged weights the training job wrote, the evaluation
     * job and the gate's verdict.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ModelView(String id, String status, String method, String baseModel, String parent,
            Instant createdAt, String task, String datasetId, String datasetHash, DatasetSummary dataset,
            String datagenJob, JobRef trainJob, String adapterUri, String artifactUri, JobRef evalJob,
            String gate, String gateReason, Map<String, Object> eval, Map<String, Object> hyperparameters,
            List<WeightedModel> parents) {}

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DatasetSummary(String id, String task, String format, int trainExamples, int testExamples,
            String contentHash, String teacherModel, String source, Instant createdAt) {}

    /** A dataset card and the first examples of its {@code train.jsonl}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DatasetView(DatasetSummary summary, String systemPrompt, Map<String, Object> stats,
            List<Object> examples, String examplesError) {}

    /** A subject's accuracy, tuned model against its base, on the same items. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SubjectRow(String subject, Integer n, Double tuned, Double base, Double diff) {}

    /** The evaluation report ({@code evals/{job}/report.json}) as the eval table shows it. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record EvalView(String model, String evalJob, String baseModel, List<SubjectRow> subjects,
            SubjectRow overall, Double heldOutLoss, Double baseHeldOutLoss, Map<String, Object> comparison,
            Map<String, Object> gate) {}
}
