package dev.forgeline.engine.generate;

/**
 * Token ids to text, skipping special tokens; the tokenizer's decode fits. Generation needs it
 * only for stop strings and streamed text, so the engine core stays free of tokenizer code.
 */
@FunctionalInterface
public interface TokenDecoder {
    String decode(int[] ids);
}
