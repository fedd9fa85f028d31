package dev.forgeline.engine.generate;

/**
 * Receives each generated token as soon as it is sampled, with its {@link TokenLogprobs} when
 * the sequence's {@link SamplingParams#logprobs()} asks for them (else null). {@code textDelta} is the text that
 * became final with this token: it can be empty while an incomplete UTF-8 character or a
 * possible stop-string prefix is held back, and it never includes a stop string. It is null
 * when the generation has no decoder.
 */
@FunctionalInterface
public interface TokenListener {
    void onToken(int tokenId, String textDelta, TokenLogprobs logprobs);
}
