package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Whether an example is fit to train on, and if not why: in order, {@link Rejection#EMPTY},
 * {@link Rejection#BAD_ROLES}, {@link Rejection#TOO_SHORT}, {@link Rejection#TOO_LONG},
 * {@link Rejection#REFUSAL}, {@link Rejection#ECHO}.
 */
public final class ExampleCheck {
    /** How assistants open a refusal; matched at the start of a reply, case and apostrophes aside. */
    private static final List<String> REFUSALS = List.of("i'm sorry, but i can't", "i'm sorry, but i cannot",
            "i am sorry, but i can't", "i am sorry, but i cannot", "sorry, but i can't", "i cannot help with",
            "i can't help with", "i can't assist with", "i cannot assist with", "i'm unable to help with",
            "i am unable to help with", "i'm not able to help with", "as an ai language model", "as an ai, i cannot",
            "i won't be able to help with");
    /** An echo copies most of the instructions' word 3-shingles; shorter messages are too short to tell. */
    private static final int ECHO_MIN_WORDS = 8;
    private static final double ECHO_SHARE = 0.8;

    private final int minChars;
    private final int maxChars;

    /** {@code minChars}: per user or assistant message; {@code maxChars}: the whole example. */
    public ExampleCheck(int minChars, int maxChars) {
        this.minChars = minChars;
        this.maxChars = maxChars;
    }

    public static ExampleCheck defaults() {
        return new ExampleCheck(2, 16_000);
    }

    /** {@code instructions}: what an echo would repeat (the task and the generation prompt), or null. */
    public Optional<Rejection> check(Conversation c, String instructions) {
        List<ChatTurn> m = c.messages();
        if (m.isEmpty() || m.stream().anyMatch(t -> t.content() == null || t.content().isBlank() || t.role() == null)
                || m.stream().noneMatch(t -> "user".equals(t.role())) || m.stream().noneMatch(t -> "assistant".equals(t.role()))) {
            return Optional.of(Rejection.EMPTY);
        }
        if (!rolesInOrder(m)) {
            return Optional.of(Rejection.BAD_ROLES);
        }
        int total = 0;
        for (ChatTurn t : m) {
            total += t.content().length();
            if (!"system".equals(t.role()) && t.content().strip().length() < minChars) {
                return Optional.of(Rejection.TOO_SHORT);
            }
        }
        if (total > maxChars) {
            return Optional.of(Rejection.TOO_LONG);
        }
        for (ChatTurn t : m) {
            if ("assistant".equals(t.role()) && refuses(t.content())) {
                return Optional.of(Rejection.REFUSAL);
            }
        }
        if (instructions != null && echoes(m, instructions)) {
            return Optional.of(Rejection.ECHO);
        }
        return Optional.empty();
    }

    /** An optional system message, then user and assistant by turns, starting with the user and ending with the assistant. */
    private static boolean rolesInOrder(List<ChatTurn> m) {
        int i = "system".equals(m.get(0).role()) ? 1 : 0;
        if (m.size() - i < 2 || (m.size() - i) % 2 != 0) {
            return false;
        }
        for (int j = i; j < m.size(); j++) {
            if (!m.get(j).role().equals((j - i) % 2 == 0 ? "user" : "assistant")) {
                return false;
            }
        }
        return true;
    }

    static boolean refuses(String reply) {
        String opening = reply.strip().toLowerCase(Locale.ROOT).replace('’', '\'');
        opening = opening.substring(0, Math.min(120, opening.length()));
        for (String r : REFUSALS) {
            if (opening.startsWith(r)) {
                return true;
            }
        }
        return false;
    }

    private static boolean echoes(List<ChatTurn> m, String instructions) {
        String source = Shingles.normalized(instructions);
        Set<Long> sourceShingles = Shingles.of(source);
        for (ChatTurn t : m) {
            if ("system".equals(t.role())) continue;
            String text = Shingles.normalized(t.content());
            if (text.equals(source)) {
                return true;
            }
            if (text.split(" ").length < ECHO_MIN_WORDS) continue;
            Set<Long> shingles = Shingles.of(text);
            long copied = shingles.stream().filter(sourceShingles::contains).count();
            if (copied >= ECHO_SHARE * shingles.size()) {
                return true;
            }
        }
        return false;
    }
}
