package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;

import java.util.List;
import java.util.Optional;

/**
 * Decides whether one generated or imported example is fit to train on, and if not, why.
 * Checks run in a fixed order and the first failure wins: {@link Rejection#EMPTY},
 * {@link Rejection#BAD_ROLES}, {@link Rejection#TOO_SHORT}, {@link Rejection#TOO_LONG},
 * {@link Rejection#REFUSAL}, {@link Rejection#ECHO}. Stateless and thread-safe.
 */
public final class ExampleCheck {
    /** A user or assistant message shorter than this is not a useful turn ("?", "ok" still passes at 2). */
    public static final int DEFAULT_MIN_CHARS = 2;
    /** Whole examples above this do not fit the short contexts small models are tuned with. */
    public static final int DEFAULT_MAX_CHARS = 16_000;

    /**
     * A refusal phrase must begin within this many characters of the (normalized) assistant
     * message: room for a lead-in like "Unfortunately, " or "Hmm, ", but not for an answer that
     * mentions the phrase later on.
     */
    static final int REFUSAL_WINDOW = 40;

    /**
     * How a declining assistant starts, as normalized words (lowercase, ' for ’, punctuation
     * dropped). Kept short and specific: "sorry" alone is no refusal ("Sorry for the wait, here is ...").
     */
    static final List<String> REFUSAL_OPENINGS = List.of(
            "i'm sorry but i can't",
            "i'm sorry but i cannot",
            "i am sorry but i can't",
            "i am sorry but i cannot",
            "i'm sorry i can't",
            "i'm sorry i cannot",
            "i'm sorry but i'm unable",
            "i'm sorry but i am unable",
            "i apologize but i can't",
            "i apologize but i cannot",
            "i can't help with",
            "i cannot help with",
            "i can't assist with",
            "i cannot assist with",
            "i can't fulfill",
            "i cannot fulfill",
            "i can't comply",
            "i cannot comply",
            "i'm unable to help",
            "i'm unable to assist",
            "i am unable to help",
            "i am unable to assist",
            "i'm not able to help",
            "i won't be able to help",
            "as an ai language model",
            "as an ai model i",
            "as an ai assistant i can't",
            "as an ai assistant i cannot");

    /**
     * A message counts as an echo when at least this share of its word shingles appears in the
     * instructions (or this share of the instructions' shingles appears in it).
     */
    static final double ECHO_CONTAINMENT = 0.8;
    /**
     * Below this many words only an exact repeat is an echo: short turns ("Explain step by step")
     * share words with any prompt by chance.
     */
    static final int ECHO_MIN_WORDS = 8;

    private final int minChars;
    private final int maxChars;

    /**
     * @param minChars the fewest characters (after trimming) of each user and assistant message
     * @param maxChars the most characters of the whole example, all messages' contents together
     */
    public ExampleCheck(int minChars, int maxChars) {
        if (minChars < 0) throw new IllegalArgumentException("minChars must be >= 0: " + minChars);
        if (maxChars < minChars) throw new IllegalArgumentException("maxChars " + maxChars + " < minChars " + minChars);
        this.minChars = minChars;
        this.maxChars = maxChars;
    }

    /** At least 2 characters per user and assistant message, at most 16,000 for the example. */
    public static ExampleCheck defaults() {
        return new ExampleCheck(DEFAULT_MIN_CHARS, DEFAULT_MAX_CHARS);
    }

    public int minChars() {
        return minChars;
    }

    public int maxChars() {
        return maxChars;
    }

    /**
     * Why {@code c} should not be kept, or empty when it may.
     *
     * @param instructions the task description and the generation prompt, which a failed teacher
     *     answer repeats; null skips the {@link Rejection#ECHO} check (e.g. for imported data)
     */
    public Optional<Rejection> check(Conversation c, String instructions) {
        List<ChatTurn> messages = c == null ? List.of() : c.messages();
        if (isEmpty(messages)) return Optional.of(Rejection.EMPTY);
        if (!rolesInOrder(messages)) return Optional.of(Rejection.BAD_ROLES);
        if (tooShort(messages)) return Optional.of(Rejection.TOO_SHORT);
        if (tooLong(messages)) return Optional.of(Rejection.TOO_LONG);
        if (refuses(messages)) return Optional.of(Rejection.REFUSAL);
        if (instructions != null && echoes(messages, instructions)) return Optional.of(Rejection.ECHO);
        return Optional.empty();
    }

    private static boolean isEmpty(List<ChatTurn> messages) {
        if (messages.isEmpty()) return true;
        boolean user = false, assistant = false;
        for (ChatTurn t : messages) {
            if (t == null || t.content() == null || t.content().isBlank()) return true;
            user |= "user".equals(t.role());
            assistant |= "assistant".equals(t.role());
        }
        return !user || !assistant;
    }

    /** system?, then user, assistant, user, assistant, ... ending with assistant. */
    private static boolean rolesInOrder(List<ChatTurn> messages) {
        int first = "system".equals(messages.get(0).role()) ? 1 : 0;
        int turns = messages.size() - first;
        if (turns == 0 || turns % 2 != 0) return false;
        for (int i = first; i < messages.size(); i++) {
            String expected = (i - first) % 2 == 0 ? "user" : "assistant";
            if (!expected.equals(messages.get(i).role())) return false;
        }
        return true;
    }

    private boolean tooShort(List<ChatTurn> messages) {
        for (ChatTurn t : messages) {
            if (!"system".equals(t.role()) && length(t.content().strip()) < minChars) return true;
        }
        return false;
    }

    private boolean tooLong(List<ChatTurn> messages) {
        long total = 0;
        for (ChatTurn t : messages) total += length(t.content());
        return total > maxChars;
    }

    /** Characters as a reader counts them: an emoji is one, not two UTF-16 units. */
    private static int length(String s) {
        return s.codePointCount(0, s.length());
    }

    private static boolean refuses(List<ChatTurn> messages) {
        for (ChatTurn t : messages) {
            if ("assistant".equals(t.role()) && startsWithRefusal(t.content())) return true;
        }
        return false;
    }

    static boolean startsWithRefusal(String text) {
        String head = String.join(" ", WordShingles.words(leadingPart(text)));
        for (String opening : REFUSAL_OPENINGS) {
            int at = head.indexOf(opening);
            // at a word start: "ai'm sorry" is not "i'm sorry"
            if (at >= 0 && at <= REFUSAL_WINDOW && (at == 0 || head.charAt(at - 1) == ' ')) return true;
        }
        return false;
    }

    /** Enough of the message to hold a phrase that starts inside the window; the rest cannot match. */
    private static String leadingPart(String text) {
        int longest = REFUSAL_OPENINGS.stream().mapToInt(String::length).max().orElse(0);
        // generous: markdown and punctuation dropped by normalization may take room in the raw text
        int keep = 4 * (REFUSAL_WINDOW + longest);
        return text.length() <= keep ? text : text.substring(0, keep);
    }

    private static boolean echoes(List<ChatTurn> messages, String instructions) {
        List<String> instructionWords = WordShingles.words(instructions);
        if (instructionWords.isEmpty()) return false;
        long[] instructionShingles = WordShingles.hashes(instructionWords);
        for (ChatTurn t : messages) {
            if ("system".equals(t.role())) continue;
            List<String> words = WordShingles.words(t.content());
            if (words.equals(instructionWords)) return true;
            long[] shingles = WordShingles.hashes(words);
            // the message is mostly a copy of the instructions
            if (words.size() >= ECHO_MIN_WORDS
                    && WordShingles.containment(shingles, instructionShingles) >= ECHO_CONTAINMENT) return true;
            // the message reproduces most of the instructions, with something around them
            if (instructionWords.size() >= ECHO_MIN_WORDS
                    && WordShingles.containment(instructionShingles, shingles) >= ECHO_CONTAINMENT) return true;
        }
        return false;
    }
}
