package dev.forgeline.datagen.cleaning;

/** Why an example was not kept; the card counts each reason. */
public enum Rejection {
    /** A message without text, or no user or no assistant message. */
    EMPTY,
    /** Roles out of order: not system?, then user and assistant alternating, ending with the assistant. */
    BAD_ROLES,
    /** A message shorter than the lower length bound. */
    TOO_SHORT,
    /** The example longer than the upper length bound. */
    TOO_LONG,
    /** The assistant declines ("I'm sorry, but I can't ..."). */
    REFUSAL,
    /** The example repeats the generation instructions or the task description instead of doing the task. */
    ECHO,
    /** A preference pair whose chosen and rejected replies are the same text: nothing to prefer. */
    IDENTICAL_REPLIES;

    /** The name the card uses, e.g. {@code too_long}. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
