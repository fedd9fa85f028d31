package dev.forgeline.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * lm-evaluation-harness's {@code mmlu} prompt: the subject's description and a blank line, each
 * shot as its question followed by {@code " {letter}"} and a blank line, then the question,
 * ending {@code Answer:}. The choices are the continuations {@code " A"}, {@code " B"}, ...
 */
public final class MmluPrompt {
    private MmluPrompt() {}

    public static String description(String subject) {
        return "The following are multiple choice questions (with answers) about " + subject.replace('_', ' ') + ".\n\n";
    }

    public static String letter(int i) {
        return String.valueOf((char) ('A' + i));
    }

    /** Python's {@code str.strip()} on the question, as the harness's template writes it. */
    public static String question(McqItem item) {
        StringBuilder s = new StringBuilder(strip(item.question()));
        for (int i = 0; i < item.choices().size(); i++) {
            s.append('\n').append(letter(i)).append(". ").append(item.choices().get(i));
        }
        return s.append("\nAnswer:").toString();
    }

    public static String shot(McqItem item) {
        return question(item) + " " + letter(item.answer()) + "\n\n";
    }

    public static String context(String subject, List<McqItem> shots, McqItem item) {
        StringBuilder s = new StringBuilder(description(subject));
        shots.forEach(shot -> s.append(shot(shot)));
        return s.append(question(item)).toString();
    }

    public static List<String> continuations(int choices) {
        List<String> out = new ArrayList<>(choices);
        for (int i = 0; i < choices; i++) {
            out.add(" " + letter(i));
        }
        return out;
    }

    /** Python strips what {@code str.isspace()} calls whitespace, which {@link Character#isWhitespace} misses for U+00A0 and a few more. */
    static String strip(String s) {
        int from = 0;
        int to = s.length();
        while (from < to && isPythonSpace(s.charAt(from))) from++;
        while (to > from && isPythonSpace(s.charAt(to - 1))) to--;
        return s.substring(from, to);
    }

    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || (c >= 0x1c && c <= 0x1f) || c == 0x85;
    }
}
