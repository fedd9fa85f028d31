package dev.forgeline.eval;

import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the chosen letter from a generated answer. The rule, in order:
 * <ol>
 *   <li>an explicit phrase, {@code answer is X}, {@code answer is (X)} or {@code Answer: X}
 *       (any case, X a capital letter), first occurrence;</li>
 *   <li>otherwise the first standalone capital letter: at the start or after whitespace or
 *       {@code (}, and at the end or before whitespace or one of {@code ).:,}.</li>
 * </ol>
 * Only letters of the question's choices count (A-D for four). No match: unparseable, and the
 * item counts as wrong.
 */
public final class AnswerExtractor {
    private static final Pattern EXPLICIT = Pattern.compile("(?i:answer\\s*(?:is|:))\\s*\\(?([A-Z])\\b");
    private static final Pattern STANDALONE = Pattern.compile("(?:^|(?<=[\\s(]))([A-Z])(?=$|[\\s).:,])");

    private AnswerExtractor() {}

    public static OptionalInt choice(String answer, int choices) {
        if (answer == null) {
            return OptionalInt.empty();
        }
        for (Pattern p : new Pattern[] {EXPLICIT, STANDALONE}) {
            Matcher m = p.matcher(answer);
            while (m.find()) {
                int c = m.group(1).charAt(0) - 'A';
                if (c < choices) {
                    return OptionalInt.of(c);
                }
            }
        }
        return OptionalInt.empty();
    }
}
