package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * Generate a chat dataset for a task with a teacher LLM ({@code forge.datagen.requests}).
 *
 * @param task          what the fine-tuned model should do, in plain words (required)
 * @param datasetId     id of the dataset to write (default: the job id)
 * @param numExamples   examples to generate, train and test together (default 200)
 * @param testFraction  share held out as the test split (default 0.1)
 * @param teacherModel  teacher model name; the service's configured teacher when omitted
 * @param systemPrompt  system prompt put in every example; none when omitted
 * @param temperature   teacher sampling temperature (default 0.7)
 * @param seed          seeds the split and the teacher where it supports one (default 42)
 * @param baseModel     the model the {@code train} step fine-tunes; required when {@code then} has "train"
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DatagenRequest(
        String jobId,
        int schemaVersion,
        List<String> then,
        String task,
        String datasetId,
        Integer numExamples,
        Double testFraction,
        String teacherModel,
        String systemPrompt,
        Double temperature,
        Long seed,
        String baseModel) implements JobRequest {

    public DatagenRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        if (datasetId == null || datasetId.isBlank()) datasetId = jobId;
        if (numExamples == null) numExamples = 200;
        if (testFraction == null) testFraction = 0.1;
        if (temperature == null) temperature = 0.7;
        if (seed == null) seed = 42L;
    }

    public static DatagenRequest of(String jobId, String task) {
        return new DatagenRequest(jobId, SchemaVersion.CURRENT, null, task, null, null, null, null, null, null, null, null);
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .required("task", task)
                .atLeast("num_examples", numExamples, 1)
                .inRange("test_fraction", testFraction, 0, 1)
                .between("temperature", temperature, 0, 2);
        if (then.contains("train")) c.required("base_model", baseModel);
        return c.errors();
    }
}
