package dev.forgeline.datagen;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;

/**
 * The data generator's own settings, {@code forge.datagen.*} (env {@code FORGE_DATAGEN_...}); a
 * request's {@code teacher} overrides the endpoint per job.
 */
@ConfigMapping(prefix = "forge.datagen")
public interface DatagenConfig {

    /** The teacher: any OpenAI-compatible chat completions endpoint. */
    TeacherSettings teacher();

    interface TeacherSettings {
        /** Base URL, up to {@code /v1}: OpenAI, vLLM, Ollama ({@code http://localhost:11434/v1}), or Forgeline's gateway. */
        @WithDefault("https://api.openai.com/v1")
        String baseUrl();

        /** The teacher model. */
        @WithDefault("gpt-4o-mini")
        String model();

        /**
         * The environment variable (a Kubernetes secret mounted as one) that holds the API key; when
         * that variable is not set, calls go without a key (local endpoints). The key never travels in
         * a message and is never logged.
         */
        @WithDefault("OPENAI_API_KEY")
        String apiKeyEnv();

        /**
         * The variables a request's {@code teacher.api_key_env} may name: a request cannot make the
         * service send any other secret to the endpoint it names. A request that names its own
         * {@code base_url} gets no key unless it names one of these.
         */
        @WithDefault("OPENAI_API_KEY,FORGE_TEACHER_API_KEY")
        List<String> allowedApiKeyEnvs();

        /** One call's timeout; a slower call counts as failed and is retried. */
        @WithDefault("120s")
        Duration timeout();

        /** Attempts per call, the first included; retries back off exponentially with jitter and honour Retry-After. */
        @WithDefault("6")
        int maxAttempts();
    }

    /** The policy that rejection sampling samples when a request names no {@code policy.base_url}. */
    PolicySettings policy();

    interface PolicySettings {
        /**
         * Base URL, up to {@code /v1}, of the gateway that serves the registry's models: local mode's
         * ({@code ./forge up}) by default; {@code http://gateway:8000/v1} in Kubernetes.
         */
        @WithDefault("http://localhost:8000/v1")
        String baseUrl();

        /** The variable holding the gateway's key (the CLI's {@code FORGE_API_KEY}); unset: no key sent. */
        @WithDefault("FORGE_API_KEY")
        String apiKeyEnv();

        /** The variables a request's {@code policy.api_key_env} may name, as for the teacher. */
        @WithDefault("FORGE_API_KEY,OPENAI_API_KEY")
        List<String> allowedApiKeyEnvs();

        /** One sampling request's timeout (all {@code num_samples} answers come in one response). */
        @WithDefault("300s")
        Duration timeout();

        /** Attempts per request, the first included, with the teacher's backoff and Retry-After. */
        @WithDefault("6")
        int maxAttempts();
    }
}
