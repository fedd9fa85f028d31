package dev.forgeline.engine.generate;

import dev.forgeline.engine.config.GenerationConfig;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How to pick each next token. Penalties follow their sources: {@code repetitionPenalty} is
 * transformers' (divide positive logits, multiply negative ones, of every token seen in prompt
 * or output), {@code presencePenalty} and {@code frequencyPenalty} are OpenAI's (subtract per
 * output token: once if present, times its count). Temperature 0 means greedy (argmax, the
 * lowest id on ties). A fixed {@code seed} gives the same tokens on every run.
 *
 * @param maxTokens generated-token limit; null runs to the end of the context window
 * @param logprobs  null: none; k >= 0: each token's {@link TokenLogprobs} with the k best alternatives
 */
public record SamplingParams(
        double temperature,
        double topP,
        int topK,
        Long seed,
        double repetitionPenalty,
        double presencePenalty,
        double frequencyPenalty,
        List<String> stopStrings,
        Set<Integer> stopTokenIds,
        Integer maxTokens,
        Integer logprobs) {

    public SamplingParams {
        if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0, was " + temperature);
        if (topP <= 0 || topP > 1) throw new IllegalArgumentException("top_p must be in (0, 1], was " + topP);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0, was " + topK);
        if (repetitionPenalty <= 0) throw new IllegalArgumentException("repetition_penalty must be > 0");
        if (maxTokens != null && maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1");
        if (logprobs != null && logprobs < 0) throw new IllegalArgumentException("logprobs must be >= 0");
        stopStrings = stopStrings == null ? List.of() : stopStrings.stream().filter(s -> !s.isEmpty()).toList();
        stopTokenIds = stopTokenIds == null ? Set.of() : Set.copyOf(stopTokenIds);
    }

    public static SamplingParams greedy() {
        return builder().build();
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The model author's defaults from generation_config.json: its eos ids stop generation, and
     * sampling settings apply when it asks for sampling.
     */
    public static Builder builder(GenerationConfig g) {
        Builder b = new Builder().stopTokenIds(new LinkedHashSet<>(g.eosTokenIds()));
        if (Boolean.TRUE.equals(g.doSample())) {
            b.temperature(g.temperature() == null ? 1.0 : g.temperature());
            if (g.topP() != null) b.topP(g.topP());
            if (g.topK() != null) b.topK(g.topK());
        }
        if (g.repetitionPenalty() != null) b.repetitionPenalty(g.repetitionPenalty());
        if (g.maxNewTokens() != null) b.maxTokens(g.maxNewTokens());
        return b;
    }

    public Builder toBuilder() {
        return new Builder().temperature(temperature).topP(topP).topK(topK).seed(seed)
                .repetitionPenalty(repetitionPenalty).presencePenalty(presencePenalty)
                .frequencyPenalty(frequencyPenalty).stopStrings(stopStrings).stopTokenIds(stopTokenIds)
                .maxTokens(maxTokens).logprobs(logprobs);
    }

    public static final class Builder {
        private double temperature;
        private double topP = 1.0;
        private int topK;
        private Long seed;
        private double repetitionPenalty = 1.0;
        private double presencePenalty;
        private double frequencyPenalty;
        private List<String> stopStrings = List.of();
        private Set<Integer> stopTokenIds = Set.of();
        private Integer maxTokens;
        private Integer logprobs;

        public Builder temperature(double v) { temperature = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder repetitionPenalty(double v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder stopStrings(List<String> v) { stopStrings = v; return this; }
        public Builder stopTokenIds(Set<Integer> v) { stopTokenIds = v; return this; }
        public Builder maxTokens(Integer v) { maxTokens = v; return this; }
        public Builder logprobs(Integer v) { logprobs = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(temperature, topP, topK, seed, repetitionPenalty, presencePenalty,
                    frequencyPenalty, stopStrings, stopTokenIds, maxTokens, logprobs);
        }
    }
}
