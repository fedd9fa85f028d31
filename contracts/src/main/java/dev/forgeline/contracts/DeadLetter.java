package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;
import java.util.List;

/**
 * A record a consumer could not accept, on {@code forge.dlq}: why, where it came from, and the
 * original value so an operator can fix and resend it.
 *
 * @param reason        one line: "unparseable JSON: ...", "invalid TrainingRequest: lora.r: must be > 0; ..."
 * @param errors        the field errors behind the reason, when the record parsed
 * @param value         the original value as text (UTF-8), null for a null value
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeadLetter(
        String reason,
        List<FieldError> errors,
        String sourceTopic,
        int partition,
        long offset,
        String key,
        String value,
        Instant timestamp,
        int schemaVersion) {

    public DeadLetter {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        errors = errors == null ? List.of() : List.copyOf(errors);
    }
}
