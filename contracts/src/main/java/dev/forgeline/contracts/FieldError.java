package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/** One validation failure, named by its JSON path: {@code lora.r: must be > 0}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record FieldError(String field, String message) {
    @Override
    public String toString() {
        return field + ": " + message;
    }
}
