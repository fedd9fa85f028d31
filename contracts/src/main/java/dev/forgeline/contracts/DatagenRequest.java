package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * Make a chat dataset ({@code forge.datagen.requests}): generate it for a {@code task} with a teacher
 * LLM, or import a {@code source} file of a known format. Omitted fields get the defaults below.
 *
 * @param task          what the fine-tuned model should do, in plain words (required unless {@code source})
 * @param datasetId     id of the dataset to write (default: the job id)
 * @param numExamples   examples to keep, train and test together (default 200)
 * @param testFraction  share held out as the test split (default 0.1)
 * @param teacher       overrides of the service's teacher (base URL, model, API key variable)
 * @param systemPrompt  system prompt put on every example; the teacher writes one when omitted
 * @param temperature   teacher sampling temperature for examples (default 0.7)
 * @param maxConcurrency teacher calls in flight at once (default 8)
 * @param maxTokensPerCall completion tokens a teacher call may use (default 1024)
 * @param budgetTokens  teacher tokens (prompt + completion) the job may spend; none when omitted. At
 *                      the budget the job stops and keeps what it made, and the card says so
 * @param seed          seeds the split, the sub-topic order and the teacher where it supports one (default 42)
 * @param nearDuplicateThreshold Jaccard similarity of word shingles at which an example counts as a
 *                      near duplicate of a kept one (default 0.8)
 * @param seedExamples  examples the teacher sees as the style to follow; not put in the dataset
 * @param exampleFormat json (default): one call writes a whole example as JSON; plain: one call writes
 *                      the user message and a second answers it as the model, both as plain text, for
 *                      teachers that cannot write JSON
 * @param source        import instead of generating: a file and its format (format {@code preference}
 *                      makes a preference dataset for {@code method: dpo})
 * @param train         the training step's settings when {@code then} names {@code train}; its job id
 *                      and dataset are filled in from this job
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
        Teacher teacher,
        String systemPrompt,
        Double temperature,
        Integer maxConcurrency,
        Integer maxTokensPerCall,
        Long budgetTokens,
        Long seed,
        Double nearDuplicateThreshold,
        List<Conversation> seedExamples,
        ExampleFormat exampleFormat,
        Source source,
        TrainingRequest train) implements JobRequest {

    /**
     * Overrides of the service's teacher ({@code forge.datagen.teacher.*}). The key itself never
     * travels in a message: {@code apiKeyEnv} names the environment variable that holds it.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Teacher(String baseUrl, String model, String apiKeyEnv) {}

    /** One example: its messages in order. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Conversation(List<ChatTurn> messages) {
        public Conversation {
            messages = messages == null ? List.of() : List.copyOf(messages);
        }
    }

    /**
     * A file to import: an artifact store path ({@code uploads/x.jsonl}), a {@code file:} URI or an
     * absolute path.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Source(String path, Format format) {}

    /** How the teacher writes an example (see {@code exampleFormat}). */
    public enum ExampleFormat {
        @JsonProperty("json") JSON,
        @JsonProperty("plain") PLAIN
    }

    /** Formats people already have, one JSON object a line (or a JSON array of them). */
    public enum Format {
        /** {@code instruction}, optional {@code input}, {@code output} (Stanford Alpaca). */
        @JsonProperty("alpaca") ALPACA,
        /** {@code instruction}, {@code context}, {@code response}, {@code category} (Databricks Dolly). */
        @JsonProperty("dolly") DOLLY,
        /** {@code conversations}: {@code from} (system, human, gpt) and {@code value} (ShareGPT). */
        @JsonProperty("sharegpt") SHAREGPT,
        /** {@code messages} with {@code role} and {@code content} (OpenAI chat fine-tuning). */
        @JsonProperty("openai") OPENAI,
        /** {@code prompt} and {@code completion}. */
        @JsonProperty("prompt_completion") PROMPT_COMPLETION,
        /**
         * Preference pairs for DPO: {@code prompt} (or {@code messages}), {@code chosen}, {@code rejected}
         * in TRL's standard or conversational shape ({@link PreferenceLine}); the dataset's format is
         * {@code preference}.
         */
        @JsonProperty("preference") PREFERENCE
    }

    public DatagenRequest {
        schemaVersion = SchemaVersion.orCurrent(schemaVersion);
        then = then == null ? List.of() : List.copyOf(then);
        if (datasetId == null || datasetId.isBlank()) datasetId = jobId;
        if (numExamples == null) numExamples = 200;
        if (testFraction == null) testFraction = 0.1;
        if (temperature == null) temperature = 0.7;
        if (maxConcurrency == null) maxConcurrency = 8;
        if (maxTokensPerCall == null) maxTokensPerCall = 1024;
        if (seed == null) seed = 42L;
        if (nearDuplicateThreshold == null) nearDuplicateThreshold = 0.8;
        seedExamples = seedExamples == null ? List.of() : List.copyOf(seedExamples);
        if (exampleFormat == null) exampleFormat = ExampleFormat.JSON;
    }

    public static DatagenRequest of(String jobId, String task) {
        return builder(jobId).task(task).build();
    }

    public static Builder builder(String jobId) {
        return new Builder().jobId(jobId);
    }

    public Builder toBuilder() {
        return new Builder().jobId(jobId).schemaVersion(schemaVersion).then(then).task(task).datasetId(datasetId)
                .numExamples(numExamples).testFraction(testFraction).teacher(teacher).systemPrompt(systemPrompt)
                .temperature(temperature).maxConcurrency(maxConcurrency).maxTokensPerCall(maxTokensPerCall)
                .budgetTokens(budgetTokens).seed(seed).nearDuplicateThreshold(nearDuplicateThreshold)
                .seedExamples(seedExamples).exampleFormat(exampleFormat).source(source).train(train);
    }

    /** Whether this request imports a file rather than generating with a teacher. */
    public boolean imports() {
        return source != null;
    }

    /**
     * The training step's request: {@link #train}'s settings on this job's dataset, under a job id
     * derived from this one (a resumed job that publishes again yields one training job), followed
     * by the steps after {@code train} in {@link #then}.
     */
    public TrainingRequest trainingRequest() {
        return train.asStepAfter(jobId + "-train", datasetId, stepsAfter("train"));
    }

    @Override
    public List<FieldError> validate() {
        FieldChecks c = new FieldChecks()
                .required("job_id", jobId)
                .supportedSchema(schemaVersion)
                .steps("then", then)
                .atLeast("num_examples", numExamples, 1)
                .inRange("test_fraction", testFraction, 0, 1)
                .between("temperature", temperature, 0, 2)
                .between("max_concurrency", maxConcurrency, 1, 256)
                .atLeast("max_tokens_per_call", maxTokensPerCall, 16)
                .atLeast("budget_tokens", budgetTokens, 1)
                .between("near_duplicate_threshold", nearDuplicateThreshold, 0.05, 1);
        if (source == null) {
            c.required("task", task == null || task.isBlank() ? null : task);
        } else {
            c.required("source.path", source.path() == null || source.path().isBlank() ? null : source.path());
            c.required("source.format", source.format());
        }
        for (int i = 0; i < seedExamples.size(); i++) {
            if (seedExamples.get(i).messages().isEmpty()) c.fail("seed_examples[" + i + "]", "has no messages");
        }
        if (then.contains("train")) {
            if (train == null) {
                c.fail("train", "required when then names 'train' (at least base_model)");
            } else {
                if (!stepsAfter("train").isEmpty() && !train.then().isEmpty()) {
                    c.fail("train.then", "give the steps after 'train' either in then or in train.then, not both");
                }
                c.addAll("train", trainingRequest().validate());
                boolean pairs = source != null && source.format() == Format.PREFERENCE;
                if (pairs != (train.method() == TrainingRequest.Method.DPO)) {
                    c.fail("train.method", pairs ? "a preference dataset trains with method dpo"
                            : "method dpo needs a preference dataset (source.format preference)");
                }
            }
        }
        if (!then.isEmpty() && !then.get(0).equals("train")) {
            c.fail("then", "a dataset goes to 'train' first, not '" + then.get(0) + "'");
        }
        return c.errors();
    }

    public static final class Builder {
        private String jobId;
        private int schemaVersion;
        private List<String> then;
        private String task;
        private String datasetId;
        private Integer numExamples;
        private Double testFraction;
        private Teacher teacher;
        private String systemPrompt;
        private Double temperature;
        private Integer maxConcurrency;
        private Integer maxTokensPerCall;
        private Long budgetTokens;
        private Long seed;
        private Double nearDuplicateThreshold;
        private List<Conversation> seedExamples;
        private ExampleFormat exampleFormat;
        private Source source;
        private TrainingRequest train;

        public Builder jobId(String v) { jobId = v; return this; }
        public Builder schemaVersion(int v) { schemaVersion = v; return this; }
        public Builder then(List<String> v) { then = v; return this; }
        public Builder task(String v) { task = v; return this; }
        public Builder datasetId(String v) { datasetId = v; return this; }
        public Builder numExamples(Integer v) { numExamples = v; return this; }
        public Builder testFraction(Double v) { testFraction = v; return this; }
        public Builder teacher(Teacher v) { teacher = v; return this; }
        public Builder systemPrompt(String v) { systemPrompt = v; return this; }
        public Builder temperature(Double v) { temperature = v; return this; }
        public Builder maxConcurrency(Integer v) { maxConcurrency = v; return this; }
        public Builder maxTokensPerCall(Integer v) { maxTokensPerCall = v; return this; }
        public Builder budgetTokens(Long v) { budgetTokens = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder nearDuplicateThreshold(Double v) { nearDuplicateThreshold = v; return this; }
        public Builder seedExamples(List<Conversation> v) { seedExamples = v; return this; }
        public Builder exampleFormat(ExampleFormat v) { exampleFormat = v; return this; }
        public Builder source(Source v) { source = v; return this; }
        public Builder train(TrainingRequest v) { train = v; return this; }

        public DatagenRequest build() {
            return new DatagenRequest(jobId, schemaVersion, then, task, datasetId, numExamples, testFraction, teacher,
                    systemPrompt, temperature, maxConcurrency, maxTokensPerCall, budgetTokens, seed,
                    nearDuplicateThreshold, seedExamples, exampleFormat, source, train);
        }
    }
}
