package dev.forgeline.datagen.rejection;

import java.util.Locale;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * 1 when the answer (or what {@code extract} finds in it: its first group, else the whole match)
 * equals the prompt's reference, else 0; compared trimmed, case-insensitively, with whitespace runs
 * as one space and one trailing '.' dropped. A prompt without a reference cannot be scored.
 */
final class ExactMatchVerifier implements Scorer {
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");
    private final Pattern extract;

    ExactMatchVerifier(String extract) {
        this.extract = extract == null ? null : Pattern.compile(extract);
    }

    @Override
    public OptionalDouble score(SamplePrompt prompt, String answer) {
        if (prompt.reference() == null) return OptionalDouble.empty();
        String candidate = answer;
        if (extract != null) {
            Matcher m = extract.matcher(answer);
            if (!m.find()) return OptionalDouble.of(0);
            candidate = m.groupCount() >= 1 && m.group(1) != null ? m.group(1) : m.group();
        }
        return OptionalDouble.of(normalize(candidate).equals(normalize(prompt.reference())) ? 1 : 0);
    }

    static String normalize(String s) {
        String t = WHITESPACE.matcher(s.strip()).replaceAll(" ").toLowerCase(Locale.ROOT);
        return t.endsWith(".") ? t.substring(0, t.length() - 1).stripTrailing() : t;
    }
}
