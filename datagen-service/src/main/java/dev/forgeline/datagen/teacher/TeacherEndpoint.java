package dev.forgeline.datagen.teacher;

import java.time.Duration;

/** Where the teacher is: an OpenAI-compatible base URL (up to {@code /v1}), the model, the key (or null) and one call's timeout. */
public record TeacherEndpoint(String baseUrl, String model, String apiKey, Duration timeout) {
    @Override
    public String toString() {
        return model + " at " + baseUrl; // never the key
    }
}
