package dev.forgeline.engine.generate;

/**
 * The outcome of one generation. {@code tokens} are the generated ids, the stop token included
 * when one ended the sequence; {@code text} is their decoded text without any stop string (null
 * when no decoder was given).
 */
public record Generation(int[] promptTokens, int[] tokens, String text, FinishReason finishReason) {}
