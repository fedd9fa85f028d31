package dev.forgeline.engine.train;

/**
 * A preference pair as token ids: both sequences begin with the same prompt tokens, and each
 * one's targets are its reply's tokens (formatting tokens left out when the encoder masks them).
 */
public record PreferencePair(EncodedExample chosen, EncodedExample rejected) {}
