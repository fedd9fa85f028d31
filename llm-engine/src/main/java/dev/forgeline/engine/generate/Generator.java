package dev.forgeline.engine.generate;

import dev.forgeline.engine.model.CausalLm;

/** Single-sequence generation: prefill the prompt, then decode token by token with a KV cache. */
public final class Generator {

    private final CausalLm model;

    public Generator(CausalLm model) {
        this.model = model;
    }

    public Generation generate(int[] prompt, SamplingParams params) {
        return generate(prompt, params, null, null);
    }

    /**
     * @param decoder for stop strings and streamed text; may be null
     * @param listener called with each token as it is sampled; may be null
     */
    public Generation generate(int[] prompt, SamplingParams params, TokenDecoder decoder, TokenListener listener) {
        int window = model.config().maxPositionEmbeddings();
        // A cache sized to what this request can use: the prompt plus its token budget.
        int maxLength = params.maxTokens() == null ? window : (int) Math.min(window, (long) prompt.length + params.maxTokens());
        try (BatchDecoder decoderBatch = new BatchDecoder(model, 1, Math.max(maxLength, prompt.length))) {
            Sequence seq = decoderBatch.add(prompt, params, decoder, listener);
            while (!seq.isFinished()) {
                decoderBatch.step();
            }
            return seq.result();
        }
    }
}
