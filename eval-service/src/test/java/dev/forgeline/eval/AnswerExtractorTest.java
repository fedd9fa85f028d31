package dev.forgeline.eval;

import org.junit.jupiter.api.Test;

import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AnswerExtractorTest {

    @Test
    void explicitPhraseFirstThenTheFirstStandaloneLetter() {
        assertEquals(OptionalInt.of(2), AnswerExtractor.choice("I think the answer is (C).", 4));
        assertEquals(OptionalInt.of(1), AnswerExtractor.choice("A tricky one. Answer: B", 4), "the phrase wins over an earlier A");
        assertEquals(OptionalInt.of(3), AnswerExtractor.choice("D. a banking service", 4));
        assertEquals(OptionalInt.of(0), AnswerExtractor.choice("(A) because", 4));
        assertEquals(OptionalInt.of(1), AnswerExtractor.choice("\nB", 4));
    }

    @Test
    void lettersInsideWordsOrBeyondTheChoicesDoNotCount() {
        assertEquals(OptionalInt.empty(), AnswerExtractor.choice("Apples are red", 4));
        assertEquals(OptionalInt.empty(), AnswerExtractor.choice("E is right", 4), "E is not a choice of four");
        assertEquals(OptionalInt.of(4), AnswerExtractor.choice("E is right", 5));
        assertEquals(OptionalInt.empty(), AnswerExtractor.choice("", 4));
        assertEquals(OptionalInt.empty(), AnswerExtractor.choice("I don't know.", 4), "I is not a choice of four");
    }
}
