package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.PreferenceLine;
import java.util.Optional;

/**
 * Decides whether a preference pair is fit to train on: {@link Rejection#EMPTY} (a blank reply or
 * prompt turn), {@link Rejection#IDENTICAL_REPLIES} (chosen and rejected the same text, compared
 * trimmed), {@link Rejection#TOO_LONG} (the pair over {@link ExampleCheck#DEFAULT_MAX_CHARS}). Refusals
 * are not rejected: in preference data a refusal is often the chosen reply.
 */
public final class PreferenceCheck {
    private PreferenceCheck() {}

    public static Optional<Rejection> check(PreferenceLine pair) {
        long chars = 0;
        for (ChatTurn t : pair.prompt()) {
            if (t.content().isBlank()) return Optional.of(Rejection.EMPTY);
            chars += t.content().length();
        }
        if (pair.chosen().content().isBlank() || pair.rejected().content().isBlank()) return Optional.of(Rejection.EMPTY);
        if (pair.chosen().content().strip().equals(pair.rejected().content().strip())) {
            return Optional.of(Rejection.IDENTICAL_REPLIES);
        }
        chars += pair.chosen().content().length() + pair.rejected().content().length();
        if (chars > ExampleCheck.DEFAULT_MAX_CHARS) return Optional.of(Rejection.TOO_LONG);
        return Optional.empty();
    }
}
