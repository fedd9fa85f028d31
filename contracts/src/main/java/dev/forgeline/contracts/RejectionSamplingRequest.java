package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Rejection sampling ({@code forge.rejection-sampling.requests}, job kind {@code rejection-sampling},
 * handled by datagen-service), as in Llama 3.1's post-training: sample {@code num_samples} answers
 * per prompt from a policy model, score each, and keep the best as SFT data and best against worst
 * as preference pairs. Omitted fields get the defaults below.
 *
 * @param prompts       where the prompts come from (required): a file ending in {@code .jsonl} (an
 *                      artifact store path, a {@code file:} URI or an absolute path) whose lines hold
 *                      {@code prompt} (a string or messages) or {@code messages}, and optionally
 *                      {@code reference} (the known answer for {@code exact_match}); or a dataset (id
 *                      in the artifact store, {@code file:} URI or absolute path of its folder), whose
 *                      {@code train.jsonl} conversations up to their last user turn are the prompts and
 *                      whose assistant reply after that turn, if any, is the reference
 * @param policy        the model to sample from (required): a model the gateway serves, or any
 *                      OpenAI-compatible endpoint
 * @param numSamples    answers per prompt, K, asked as one request with {@code n: K} (default 4, at most 128)
 * @param temperature   sampling temperature (default 0.8)
 * @param topP          nucleus sampling mass (default 1.0)
 * @param maxTokens     completion tokens per answer (default 256)
 * @param seed          sent with each request (the prompt's index added) and seeds the split (default 42)
 * @param maxConcurrency policy requests in flight at once (default 4)
 * @param scorer        how an answer is scored, 0 to 1 (required)
 * @param threshold     the lowest score an answer may have to enter the SFT set (default 1.0: verified)
 * @param outputs       which datasets to write: {@code sft} (the best answer per prompt at or above
 *                      the threshold) and/or {@code preference} (best against worst per prompt, where
 *                      the best scored higher); default both
 * @param sftDatasetId  id of the SFT dataset (default {@code {job_id}-sft})
 * @param preferenceDatasetId id of the preference dataset (default {@code {job_id}-pref})
 * @param testFraction  share of each dataset held out as its test split (default 0.1)
 * @param train         the training step's settings when {@code then} names {@code train}: its job id
 *                      ({@code {job_id}-train}) and dataset (the SFT set; the preference set for
 *                      method {@code dpo}) are filled in from this job
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RejectionSamplingRequest(
        String jobId,
        int schemaVersion,
        List<String> then,
        String prompts,
        Policy policy,
        Integer numSamples,
        Double temperature,
        Double topP,
        Integer maxTokens,
        Long seed,
        Integer maxConcurrency,
        Scorer scorer,
        Double threshold,
        List<Output> outputs,
        String sftDatasetId,
        String preferenceDatasetId,
        Double testFraction,
        TrainingRequest train) implements JobRequest {

    /** The largest {@code n} the gateway takes in one request. */
    public static final int MAX_SAMPLES = 128;

    /**
     * The policy model. Without {@code baseUrl} it is a model id the gateway serves (a base model
     * folder or an approved model), at datagen's {@code forge.datagen.policy.base-url}.
     *
     * @param model     the model id (required)
     * @param baseUrl   any OpenAI-compatible endpoint, up to {@code /v1}
     * @param apiKeyEnv the environment variable holding the endpoint's key; only the variables in
     *                  {@code forge.datagen.policy.allowed-api-key-envs}, as for the teacher
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Policy(String model, String baseUrl, String apiKeyEnv) {}

    /**
     * How an answer is scored, always in [0, 1].
     *
     * @param type      exact_match, regex, json_schema or judge (required)
     * @param extract   exact_match: a regular expression whose first group (or whole match) is the
     *                  answer compared, e.g. {@code "####\\s*(\\S+)"}; none compares the whole text.
     *                  Both sides are compared trimmed, case-insensitively, with runs of whitespace
     *                  as one space and a trailing '.' dropped
     * @param pattern   regex: the answer scores 1 when the pattern is found in it (Java syntax)
     * @param schema    json_schema: a JSON Schema (draft 2020-12 unless {@code $schema} says
     *                  otherwise); the answer scores 1 when it is JSON that the schema accepts
     * @param judge     judge: the judge model's endpoint; omitted parts come from datagen's teacher
     *                  settings ({@code forge.datagen.teacher.*})
     * @param rubric    judge: what a good answer is; the judge sees it with the prompt, the answer and
     *                  the reference, and replies with a score from 0 to {@code maxScore} (required)
     * @param maxScore  judge: the top of the judge's scale (default 10); a score s counts as s / maxScore
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Scorer(Type type, String extract, String pattern, JsonNode schema, DatagenRequest.Teacher judge,
            String rubric, Double maxScore) {
        public Scorer {
            if (type == Type.JUDGE && maxScore == null) maxScore = 10.0;
        }

        public static Scorer exactMatch(String extract) {
            return new Scorer(Type.EXACT_MATCH, extract, null, null, null, null, null);
        }

        public static Scorer regex(String pattern) {
            return new Scorer(Type.REGEX, null, pattern, null, null, null, null);
        }

        public static Scorer jsonSchema(JsonNode schema) {
            return new Scorer(Type.JSON_SCHEMA, null, null, schema, null, null, null);
        }

        public static Scorer judge(DatagenRequest.Teacher judge, String rubric) {
            return new Scorer(Type.JUDGE, null, null, null, judge, rubric, null);
        }

        List<FieldError> validate() {
            FieldChecks c = new FieldChecks().required("type", type);
            if (type == null) return c.errors();
            notFor(c, "extract", extract, Type.EXACT_MATCH);
            notFor(c, "pattern", pattern, Type.REGEX);
            notFor(c, "schema", schema, Type.JSON_SCHEMA);
            notFor(c, "judge", judge, Type.JUDGE);
            notFor(c, "rubric", rubric, Type.JUDGE);
            notFor(c, "max_score", type == Type.JUDGE ? null : maxScore, Type.JUDGE);
            switch (type) {
                case EXACT_MATCH -> compiles(c, "extract", extract);
                case REGEX -> {
                    c.required("pattern", pattern == null || pattern.isEmpty() ? null : pattern);
                    compiles(c, "pattern", pattern);
                }
                case JSON_SCHEMA -> {
                    c.required("schema", schema);
                    if (schema != null && !schema.isObject() && !schema.isBoolean()) {
                        c.fail("schema", "must be a JSON Schema: an object (or true/false)");
                    }
                }
                case JUDGE -> {
                    c.required("rubric", rubric).positive("max_score", maxScore);
                    if (judge != null && judge.baseUrl() != null && !isHttpUrl(judge.baseUrl())) {
                        c.fail("judge.base_url", "must be an http(s) URL");
                    }
                }
            }
            return c.errors();
        }

        private void notFor(FieldChecks c, String field, Object value, Type only) {
            if (value != null && type != only) c.fail(field, "only for type " + only.key());
        }

        private static void compiles(FieldChecks c, String field, String regex) {
            if (regex == null) return;
            try {
                Pattern.compile(regex);
            } catch (PatternSyntaxException e) {
                c.fail(field, "not a regular expression: " + e.getDescription());
            }
        }
    }

    public enum Type {
        @JsonProperty("exact_match") EXACT_MATCH,
        @JsonProperty("regex") REGEX,
        @JsonProperty("json_schema") JSON_SCHEMA,
        @JsonProperty("judge") JUDGE;

        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public enum Output {
        @JsonProperty("sft") SFT,
        @JsonProperty("preference") PREFERENCE
    }

    public RejectionSamplingRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        if (numSamples == null) numSamples = 4;
        if (temperature == null) temperature = 0.8;
        if (topP == null) topP = 1.0;
        if (maxTokens == null) maxTokens = 256;
        if (seed == null) seed = 42L;
        if (maxConcurrency == null) maxConcurrency = 4;
        if (threshold == null) threshold = 1.0;
        outputs = outputs == null || outputs.isEmpty() ? List.of(Output.SFT, Output.PREFERENCE) : List.copyOf(outputs);
        if ((sftDatasetId == null || sftDatasetId.isBlank()) && jobId != null) sftDatasetId = jobId + "-sft";
        if ((preferenceDatasetId == null || preferenceDatasetId.isBlank()) && jobId != null) preferenceDatasetId = jobId + "-pref";
        if (testFraction == null) testFraction = 0.1;
    }

    public boolean writes(Output output) {
        return outputs.contains(output);
    }

    /**
     * The training step's request: {@link #train}'s settings on this job's SFT set (the preference set
     * for method dpo), under a job id derived from this one, followed by the steps after {@code train}
     * in {@link #then}, or by the step's own {@code then} (a round: SFT -> DPO -> average), where every
     * later dpo step without a dataset trains on this job's preference set.
     */
    public TrainingRequest trainingRequest() {
        String dataset = train.method() == TrainingRequest.Method.DPO ? preferenceDatasetId : sftDatasetId;
        TrainingRequest step = train.asStepAfter(jobId + "-train", dataset, stepsAfter("train"));
        return writes(Output.PREFERENCE) ? step.withDatasetWhereMissing(preferenceDatasetId) : step;
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .required("prompts", prompts)
                .between("num_samples", numSamples, 1, MAX_SAMPLES)
                .between("temperature", temperature, 0, 2)
                .between("max_tokens", maxTokens, 1, 1 << 20)
                .between("max_concurrency", maxConcurrency, 1, 256)
                .between("threshold", threshold, 0, 1)
                .inRange("test_fraction", testFraction, 0, 1);
        if (topP != null && !(topP > 0 && topP <= 1)) c.fail("top_p", "must be in (0, 1]");
        if (policy == null) {
            c.fail("policy", "required (at least model)");
        } else {
            c.required("policy.model", policy.model());
            if (policy.baseUrl() != null && !isHttpUrl(policy.baseUrl())) c.fail("policy.base_url", "must be an http(s) URL");
        }
        if (scorer == null) {
            c.fail("scorer", "required (at least type: exact_match, regex, json_schema or judge)");
        } else {
            c.addAll("scorer", scorer.validate());
        }
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i) == null) c.fail("outputs[" + i + "]", "must be sft or preference");
        }
        if (outputs.stream().distinct().count() < outputs.size()) c.fail("outputs", "names an output twice");
        if (writes(Output.SFT) && writes(Output.PREFERENCE) && sftDatasetId != null && sftDatasetId.equals(preferenceDatasetId)) {
            c.fail("preference_dataset_id", "must differ from sft_dataset_id");
        }
        datasetId(c, "sft_dataset_id", sftDatasetId);
        datasetId(c, "preference_dataset_id", preferenceDatasetId);
        if (then.contains("train")) {
            if (train == null) {
                c.fail("train", "required when then names 'train' (at least base_model)");
            } else {
                Output needed = train.method() == TrainingRequest.Method.DPO ? Output.PREFERENCE : Output.SFT;
                if (!writes(needed)) {
                    c.fail("outputs", "must include " + needed.name().toLowerCase(java.util.Locale.ROOT)
                            + ": the train step trains on it");
                }
                if (!stepsAfter("train").isEmpty() && !train.then().isEmpty()) {
                    c.fail("train.then", "give the steps after 'train' either in then or in train.then, not both");
                }
                c.addAll("train", trainingRequest().validate());
            }
        }
        if (!then.isEmpty() && !then.get(0).equals("train")) {
            c.fail("then", "a dataset goes to 'train' first, not '" + then.get(0) + "'");
        }
        return c.errors();
    }

    /** One path segment, as datasets/{id}/ needs. */
    private static void datasetId(FieldChecks c, String field, String id) {
        if (id != null && (id.isBlank() || id.contains("/") || id.contains("\\") || id.equals(".") || id.equals(".."))) {
            c.fail(field, "must be one path segment");
        }
    }

    private static boolean isHttpUrl(String url) {
        try {
            java.net.URI uri = java.net.URI.create(url);
            return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static Builder builder(String jobId) {
        return new Builder().jobId(jobId);
    }

    public static final class Builder {
        private String jobId;
        private int schemaVersion;
        private List<String> then;
        private String prompts;
        private Policy policy;
        private Integer numSamples;
        private Double temperature;
        private Double topP;
        private Integer maxTokens;
        private Long seed;
        private Integer maxConcurrency;
        private Scorer scorer;
        private Double threshold;
        private List<Output> outputs;
        private String sftDatasetId;
        private String preferenceDatasetId;
        private Double testFraction;
        private TrainingRequest train;

        public Builder jobId(String v) { jobId = v; return this; }
        public Builder schemaVersion(int v) { schemaVersion = v; return this; }
        public Builder then(List<String> v) { then = v; return this; }
        public Builder prompts(String v) { prompts = v; return this; }
        public Builder policy(Policy v) { policy = v; return this; }
        public Builder numSamples(Integer v) { numSamples = v; return this; }
        public Builder temperature(Double v) { temperature = v; return this; }
        public Builder topP(Double v) { topP = v; return this; }
        public Builder maxTokens(Integer v) { maxTokens = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder maxConcurrency(Integer v) { maxConcurrency = v; return this; }
        public Builder scorer(Scorer v) { scorer = v; return this; }
        public Builder threshold(Double v) { threshold = v; return this; }
        public Builder outputs(List<Output> v) { outputs = v; return this; }
        public Builder sftDatasetId(String v) { sftDatasetId = v; return this; }
        public Builder preferenceDatasetId(String v) { preferenceDatasetId = v; return this; }
        public Builder testFraction(Double v) { testFraction = v; return this; }
        public Builder train(TrainingRequest v) { train = v; return this; }

        public RejectionSamplingRequest build() {
            return new RejectionSamplingRequest(jobId, schemaVersion, then, prompts, policy, numSamples, temperature, topP,
                    maxTokens, seed, maxConcurrency, scorer, threshold, outputs, sftDatasetId, preferenceDatasetId,
                    testFraction, train);
        }
    }
}
