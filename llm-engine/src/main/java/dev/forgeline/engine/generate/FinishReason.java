package dev.forgeline.engine.generate;

/** Why a sequence ended, in OpenAI's terms. */
public enum FinishReason {
    /** A stop token or a stop string was produced. */
    STOP,
    /** The token limit, or the end of the context window, was reached. */
    LENGTH;

    /** The value of OpenAI's {@code finish_reason} field. */
    public String openAiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
