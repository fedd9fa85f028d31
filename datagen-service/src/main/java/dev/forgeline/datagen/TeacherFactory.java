package dev.forgeline.datagen;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.datagen.teacher.OpenAiTeacher;
import dev.forgeline.datagen.teacher.RetryingTeacher;
import dev.forgeline.datagen.teacher.Teacher;
import dev.forgeline.datagen.teacher.TeacherEndpoint;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The model a request gets (the teacher, a judge or the policy): the service's settings with the
 * request's overrides. The API key is read here from the environment variable the settings (or an
 * allowed override) name, so that it never travels in a message.
 */
final class TeacherFactory {
    /** The model and how the card names it (model and endpoint, never the key). */
    record Resolved(Teacher teacher, String name) {}

    /**
     * One kind of endpoint's settings.
     *
     * @param field  the request field that overrides them, and the settings' prefix under forge.datagen
     *               ({@code teacher}, {@code policy}), for messages
     * @param model  the default model, or null where a request must name one
     */
    record Settings(String field, String baseUrl, String model, String apiKeyEnv, List<String> allowedApiKeyEnvs,
            Duration timeout, int maxAttempts) {
        static Settings of(DatagenConfig.TeacherSettings t) {
            return new Settings("teacher", t.baseUrl(), t.model(), t.apiKeyEnv(), t.allowedApiKeyEnvs(), t.timeout(), t.maxAttempts());
        }

        static Settings of(DatagenConfig.PolicySettings p) {
            return new Settings("policy", p.baseUrl(), null, p.apiKeyEnv(), p.allowedApiKeyEnvs(), p.timeout(), p.maxAttempts());
        }
    }

    private final Settings settings;

    TeacherFactory(Settings settings) {
        this.settings = settings;
    }

    Resolved resolve(DatagenRequest.Teacher override) {
        String field = settings.field();
        String baseUrl = override != null && override.baseUrl() != null ? override.baseUrl() : settings.baseUrl();
        String model = override != null && override.model() != null ? override.model() : settings.model();
        // The service's key goes to the service's endpoint only: another endpoint gets a key when the
        // request names one of the allowed variables for it.
        String keyEnv = override != null && override.baseUrl() != null ? null : settings.apiKeyEnv();
        if (override != null && override.apiKeyEnv() != null) {
            if (!settings.allowedApiKeyEnvs().contains(override.apiKeyEnv())) {
                throw new IllegalArgumentException(field + ".api_key_env '" + override.apiKeyEnv()
                        + "' is not one of forge.datagen." + field + ".allowed-api-key-envs " + settings.allowedApiKeyEnvs());
            }
            keyEnv = override.apiKeyEnv();
        }
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException(field + ".model is required");
        }
        URI uri;
        try {
            uri = URI.create(baseUrl);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + " base URL '" + baseUrl + "' is not a URL");
        }
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException(field + " base URL '" + baseUrl + "' is not an http(s) URL");
        }
        String key = keyEnv == null || keyEnv.isBlank() ? null : System.getenv(keyEnv);
        Teacher teacher = new OpenAiTeacher(new TeacherEndpoint(baseUrl, model, key == null || key.isBlank() ? null : key,
                settings.timeout()));
        return new Resolved(new RetryingTeacher(teacher, settings.maxAttempts(), System.nanoTime()), model + " at " + baseUrl);
    }
}
