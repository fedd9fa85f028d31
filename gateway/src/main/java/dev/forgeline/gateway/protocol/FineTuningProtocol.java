package dev.forgeline.gateway.protocol;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The shapes of OpenAI's fine-tuning API ({@code /v1/fine_tuning/jobs}), field names exactly as
 * OpenAI's, validation beside the fields. One extension, {@code forge}, carries what OpenAI's API
 * has no words for (training method, LoRA settings, step caps, the eval gate); see gateway/README.md.
 */
public final class FineTuningProtocol {
    private FineTuningProtocol() {}

    /** OpenAI's bounds: metadata has at most 16 pairs, keys up to 64 characters, values up to 512. */
    static final int MAX_METADATA = 16;
    /** The suffix becomes part of the model id and of its folder name, so no ':' nor '/'. */
    static final Pattern SUFFIX = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    // ---------------------------------------------------------------- requests

    /**
     * {@code n_epochs}, {@code batch_size}, {@code learning_rate_multiplier}: each {@code "auto"} or a
     * number, as OpenAI allows. Auto takes the trainer's default.
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Hyperparameters(JsonNode n_epochs, JsonNode batch_size, JsonNode learning_rate_multiplier) {

        public Integer epochs(String prefix) {
            return integerOrAuto(prefix + "n_epochs", n_epochs, 1, 50);
        }

        public Integer batchSize(String prefix) {
            return integerOrAuto(prefix + "batch_size", batch_size, 1, 256);
        }

        public Double learningRateMultiplier(String prefix) {
            JsonNode v = learning_rate_multiplier;
            String param = prefix + "learning_rate_multiplier";
            if (auto(v)) {
                return null;
            }
            if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
                throw ApiError.invalid(param, "'" + param + "' must be \"auto\" or a number greater than 0");
            }
            return v.asDouble();
        }

        private static Integer integerOrAuto(String param, JsonNode v, int min, int max) {
            if (auto(v)) {
                return null;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
                throw ApiError.invalid(param, "'" + param + "' must be \"auto\" or an integer in [" + min + ", " + max + "]");
            }
            return v.asInt();
        }

        static boolean auto(JsonNode v) {
            return v == null || v.isNull() || (v.isTextual() && v.asText().equals("auto"));
        }
    }

    /** DPO's hyperparameters: the supervised ones and {@code beta}, "auto" or a number greater than 0. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record DpoHyperparameters(JsonNode n_epochs, JsonNode batch_size, JsonNode learning_rate_multiplier, JsonNode beta) {

        Hyperparameters common() {
            return new Hyperparameters(n_epochs, batch_size, learning_rate_multiplier);
        }

        public Double beta(String prefix) {
            String param = prefix + "beta";
            if (Hyperparameters.auto(beta)) {
                return null;
            }
            if (!beta.isNumber() || !(beta.asDouble() > 0) || Double.isInfinite(beta.asDouble())) {
                throw ApiError.invalid(param, "'" + param + "' must be \"auto\" or a number greater than 0");
            }
            return beta.asDouble();
        }
    }

    /** OpenAI's {@code method}: {@code supervised} or {@code dpo} (reinforcement is not built). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record MethodParam(String type, Supervised supervised, Dpo dpo) {
        static final String SUPERVISED = "supervised";
        static final String DPO = "dpo";

        void validate() {
            if (!SUPERVISED.equals(type) && !DPO.equals(type)) {
                throw ApiError.invalid("method.type", "'method.type' must be 'supervised' or 'dpo' (reinforcement"
                        + " fine-tuning is not supported here)");
            }
            if (SUPERVISED.equals(type) ? dpo != null : supervised != null) {
                throw ApiError.invalid("method", "'method." + (SUPERVISED.equals(type) ? DPO : SUPERVISED)
                        + "' does not go with 'method.type' '" + type + "'");
            }
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Supervised(Hyperparameters hyperparameters) {}

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Dpo(DpoHyperparameters hyperparameters) {}

    /** The {@code forge} extension: how to train and how to judge the result. Every field optional. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Forge(String method, Lora lora, Integer max_steps, Integer max_seq_length, Integer save_interval,
            Eval eval) {
        static final List<String> METHODS = List.of("lora", "full", "freeze");

        void validate() {
            if (method != null && !METHODS.contains(method)) {
                throw ApiError.invalid("forge.method", "'forge.method' must be one of " + METHODS);
            }
            if (lora != null && method != null && !method.equals("lora")) {
                throw ApiError.invalid("forge.lora", "'forge.lora' applies to forge.method 'lora' only");
            }
            atLeast("forge.max_steps", max_steps, 1);
            atLeast("forge.max_seq_length", max_seq_length, 2);
            atLeast("forge.save_interval", save_interval, 0);
            if (lora != null) {
                lora.validate();
            }
            if (eval != null && eval.gate() != null) {
                eval.gate().validate();
            }
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Lora(Integer r, Double alpha, Double dropout, List<String> target_modules) {
        void validate() {
            atLeast("forge.lora.r", r, 1);
            if (alpha != null && !(alpha > 0)) {
                throw ApiError.invalid("forge.lora.alpha", "'forge.lora.alpha' must be greater than 0");
            }
            if (dropout != null && !(dropout >= 0 && dropout < 1)) {
                throw ApiError.invalid("forge.lora.dropout", "'forge.lora.dropout' must be in [0, 1)");
            }
            if (target_modules != null && target_modules.stream().anyMatch(m -> m == null || m.isBlank())) {
                throw ApiError.invalid("forge.lora.target_modules", "'forge.lora.target_modules' must hold module names");
            }
        }
    }

    /**
     * The eval step: an optional multiple-choice set (MMLU layout) and the gate. The held-out loss is
     * always measured on the validation file (or the held-out part of the training file).
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Eval(String dataset, List<String> subjects, Integer num_fewshot, Integer limit, Gate gate) {}

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Gate(Double max_accuracy_drop, Boolean held_out_must_beat_base, Double min_accuracy,
            Double max_held_out_loss) {
        void validate() {
            unit("forge.eval.gate.max_accuracy_drop", max_accuracy_drop);
            unit("forge.eval.gate.min_accuracy", min_accuracy);
            if (max_held_out_loss != null && !(max_held_out_loss > 0)) {
                throw ApiError.invalid("forge.eval.gate.max_held_out_loss", "'forge.eval.gate.max_held_out_loss' must be greater than 0");
            }
        }

        private static void unit(String param, Double v) {
            if (v != null && !(v >= 0 && v <= 1)) {
                throw ApiError.invalid(param, "'" + param + "' must be in [0, 1]");
            }
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record FineTuningJobRequest(String model, String training_file, String validation_file, String suffix,
            Long seed, Hyperparameters hyperparameters, MethodParam method, Map<String, String> metadata, Forge forge) {

        public void validate() {
            required("model", model);
            required("training_file", training_file);
            if (suffix != null && (!SUFFIX.matcher(suffix).matches() || suffix.contains(".."))) {
                throw ApiError.invalid("suffix", "'suffix' must be 1 to 64 letters, digits, '.', '_' or '-'");
            }
            if (seed != null && seed < 0) {
                throw ApiError.invalid("seed", "'seed' must be 0 or greater");
            }
            if (method != null) {
                method.validate();
                if (hyperparameters != null && methodHyperparameters()) {
                    throw ApiError.invalid("hyperparameters", "give 'hyperparameters' or"
                            + " 'method." + method.type() + ".hyperparameters', not both");
                }
            }
            if (metadata != null) {
                if (metadata.size() > MAX_METADATA) {
                    throw ApiError.invalid("metadata", "'metadata' holds at most " + MAX_METADATA + " pairs");
                }
                metadata.forEach((k, v) -> {
                    if (k.length() > 64 || v == null || v.length() > 512) {
                        throw ApiError.invalid("metadata", "'metadata' keys are at most 64 characters and values"
                                + " strings of at most 512");
                    }
                });
            }
            if (forge != null) {
                forge.validate();
                if (dpo() && forge.method() != null && !forge.method().equals("lora")) {
                    throw ApiError.invalid("forge.method", "DPO trains LoRA adapters (the reference is the base with"
                            + " them off): 'forge.method' must be 'lora' or left out");
                }
            }
            // resolve once here so a bad value is a 400 before anything is written
            resolvedHyperparameters();
        }

        /** Whether the job is DPO ({@code method.type} "dpo"); else supervised. */
        public boolean dpo() {
            return method != null && MethodParam.DPO.equals(method.type());
        }

        private boolean methodHyperparameters() {
            return dpo() ? method.dpo() != null && method.dpo().hyperparameters() != null
                    : method.supervised() != null && method.supervised().hyperparameters() != null;
        }

        /** The hyperparameters wherever the request put them, resolved: null where "auto". */
        public ResolvedHyperparameters resolvedHyperparameters() {
            boolean inMethod = method != null && methodHyperparameters();
            String prefix = inMethod ? "method." + method.type() + ".hyperparameters." : "hyperparameters.";
            Hyperparameters h = !inMethod ? hyperparameters
                    : dpo() ? method.dpo().hyperparameters().common() : method.supervised().hyperparameters();
            Double beta = inMethod && dpo() ? method.dpo().hyperparameters().beta(prefix) : null;
            if (h == null) {
                return new ResolvedHyperparameters(null, null, null, beta);
            }
            return new ResolvedHyperparameters(h.epochs(prefix), h.batchSize(prefix), h.learningRateMultiplier(prefix), beta);
        }

        private static void required(String param, String value) {
            if (value == null || value.isBlank()) {
                throw ApiError.invalid(param, "'" + param + "' is required");
            }
        }
    }

    /** Null where the request said (or meant) "auto"; {@code beta} for DPO only. */
    public record ResolvedHyperparameters(Integer n_epochs, Integer batch_size, Double learning_rate_multiplier, Double beta) {}

    private static void atLeast(String param, Integer v, int min) {
        if (v != null && v < min) {
            throw ApiError.invalid(param, "'" + param + "' must be at least " + min);
        }
    }

    // ---------------------------------------------------------------- responses

    /** What a job trains with, every value resolved (OpenAI answers numbers once a job has them). */
    public record HyperparametersOut(int n_epochs, int batch_size, double learning_rate_multiplier) {}

    public record SupervisedOut(HyperparametersOut hyperparameters) {}

    public record DpoHyperparametersOut(int n_epochs, int batch_size, double learning_rate_multiplier, double beta) {}

    public record DpoOut(DpoHyperparametersOut hyperparameters) {}

    /** {@code supervised} or {@code dpo}, the one that {@code type} names. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record MethodOut(String type, SupervisedOut supervised, DpoOut dpo) {
        public static MethodOut supervised(HyperparametersOut h) {
            return new MethodOut(MethodParam.SUPERVISED, new SupervisedOut(h), null);
        }

        public static MethodOut dpo(HyperparametersOut h, double beta) {
            return new MethodOut(MethodParam.DPO, null, new DpoOut(new DpoHyperparametersOut(h.n_epochs(), h.batch_size(),
                    h.learning_rate_multiplier(), beta)));
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record JobError(String code, String message, String param) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJob(String id, String object, long created_at, Long finished_at, String model,
            String fine_tuned_model, String organization_id, String status, HyperparametersOut hyperparameters,
            String training_file, String validation_file, List<String> result_files, Long trained_tokens,
            JobError error, long seed, Long estimated_finish, Map<String, String> metadata, MethodOut method,
            List<Object> integrations, String user_provided_suffix) {

        public FineTuningJob withState(String newStatus, String fineTunedModel, Long finishedAt, Long trainedTokens,
                JobError newError, Long estimatedFinish) {
            return new FineTuningJob(id, object, created_at, finishedAt, model, fineTunedModel, organization_id,
                    newStatus, hyperparameters, training_file, validation_file, result_files, trainedTokens, newError,
                    seed, estimatedFinish, metadata, method, integrations, user_provided_suffix);
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJobList(String object, List<FineTuningJob> data, boolean has_more) {
        public static FineTuningJobList of(List<FineTuningJob> data, boolean hasMore) {
            return new FineTuningJobList("list", data, hasMore);
        }
    }

    /** {@code type}: message or metrics; {@code level}: info, warn or error, as OpenAI's. */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJobEvent(String id, String object, long created_at, String level, String message,
            String type, Map<String, Object> data) {
        public static FineTuningJobEvent of(String id, long createdAt, String level, String message, String type,
                Map<String, Object> data) {
            return new FineTuningJobEvent(id, "fine_tuning.job.event", createdAt, level, message, type, data);
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJobEventList(String object, List<FineTuningJobEvent> data, boolean has_more) {
        public static FineTuningJobEventList of(List<FineTuningJobEvent> data, boolean hasMore) {
            return new FineTuningJobEventList("list", data, hasMore);
        }
    }

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJobCheckpoint(String id, String object, long created_at, String fine_tuned_model_checkpoint,
            String fine_tuning_job_id, Map<String, Object> metrics, long step_number) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FineTuningJobCheckpointList(String object, List<FineTuningJobCheckpoint> data, boolean has_more,
            String first_id, String last_id) {
        public static FineTuningJobCheckpointList of(List<FineTuningJobCheckpoint> data, boolean hasMore) {
            return new FineTuningJobCheckpointList("list", data, hasMore, data.isEmpty() ? null : data.get(0).id(),
                    data.isEmpty() ? null : data.get(data.size() - 1).id());
        }
    }
}
