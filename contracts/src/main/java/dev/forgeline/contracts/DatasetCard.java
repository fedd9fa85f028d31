package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A dataset in the registry ({@code forge.datasets}, compacted, keyed by id); also written as
 * {@code datasets/{id}/card.json} next to the data.
 *
 * @param format       chat (OpenAI fine-tuning JSONL, the default) or preference (DPO)
 * @param trainUri     artifact URI of {@code train.jsonl}
 * @param testUri      artifact URI of {@code test.jsonl}
 * @param contentHash  {@code sha256:<hex>} over train then test bytes; model cards cite it for lineage
 * @param teacherModel the teacher that wrote the examples (base URL and model), for generated datasets
 * @param source       how it was made: "generated:{job}", or "import:alpaca:{path}" and the like
 * @param systemPrompt the system prompt on every example, if any
 * @param stats        counts at every stage (asked, returned, unparseable, rejected by reason,
 *                     duplicates, kept, train, test), teacher tokens and calls, whether the budget stopped it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DatasetCard(
        String id,
        String task,
        String format,
        String trainUri,
        String testUri,
        int trainExamples,
        int testExamples,
        String contentHash,
        String teacherModel,
        String source,
        String systemPrompt,
        Map<String, Object> stats,
        Instant createdAt,
        int schemaVersion) {

    public DatasetCard {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        if (format == null) format = "chat";
        stats = stats == null || stats.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(stats));
    }

    public java.util.List<FieldError> validate() {
        return new FieldChecks()
                .required("id", id)
                .required("train_uri", trainUri)
                .nonNegative("train_examples", trainExamples)
                .nonNegative("test_examples", testExamples)
                .supportedSchema(schemaVersion)
                .errors();
    }
}
