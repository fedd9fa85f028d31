package dev.forgeline.datagen.rejection;

import java.util.OptionalDouble;
import java.util.regex.Pattern;

/** 1 when the pattern is found in the answer, else 0. */
final class RegexVerifier implements Scorer {
    private final Pattern pattern;

    RegexVerifier(String pattern) {
        this.pattern = Pattern.compile(pattern);
    }

    @Override
    public OptionalDouble score(SamplePrompt prompt, String answer) {
        return OptionalDouble.of(pattern.matcher(answer).find() ? 1 : 0);
    }
}
