package dev.forgeline.datagen.rejection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.RejectionSamplingRequest;
import java.util.List;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** The programmatic verifiers on answers of known verdict, and the judge's reply parsing. */
class VerifierTest {
    private static SamplePrompt prompt(String reference) {
        return new SamplePrompt(0, List.of(ChatTurn.user("q")), reference);
    }

    private static double score(Scorer s, String reference, String answer) {
        OptionalDouble d = s.score(prompt(reference), answer);
        assertTrue(d.isPresent(), "scored: " + answer);
        return d.getAsDouble();
    }

    @Test
    void exactMatchComparesTheNormalizedAnswerOrWhatExtractFinds() {
        Scorer whole = Scorer.of(RejectionSamplingRequest.Scorer.exactMatch(null), null);
        assertEquals(1, score(whole, "Tom", "  tom. "));
        assertEquals(1, score(whole, "New  York", "new york"));
        assertEquals(0, score(whole, "Tom", "Tom and Sue"));
        assertTrue(whole.score(prompt(null), "Tom").isEmpty(), "no reference: not scorable");
        Scorer extract = Scorer.of(RejectionSamplingRequest.Scorer.exactMatch("####\\s*(\\S+)"), null);
        assertEquals(1, score(extract, "42", "6 times 7 is 42.\n#### 42"));
        assertEquals(0, score(extract, "42", "6 times 7 is 42."), "no final answer found");
        assertEquals(0, score(extract, "42", "#### 41"));
    }

    @Test
    void regexScoresWhetherThePatternIsFound() {
        Scorer s = Scorer.of(RejectionSamplingRequest.Scorer.regex("\\bnamed Tom\\b"), null);
        assertEquals(1, score(s, null, "a cat named Tom. He"));
        assertEquals(0, score(s, null, "a cat named Tommy"));
    }

    @Test
    void jsonSchemaAcceptsOnlyJsonTheSchemaAccepts() throws Exception {
        Scorer s = Scorer.of(RejectionSamplingRequest.Scorer.jsonSchema(ContractsJson.mapper().readTree("""
                {"type": "object", "required": ["name", "age"],
                 "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}""")), null);
        assertEquals(1, score(s, null, "{\"name\": \"Tom\", \"age\": 3}"));
        assertEquals(1, score(s, null, "```json\n{\"name\": \"Tom\", \"age\": 3}\n```"));
        assertEquals(0, score(s, null, "{\"name\": \"Tom\", \"age\": -1}"));
        assertEquals(0, score(s, null, "{\"name\": \"Tom\"}"));
        assertEquals(0, score(s, null, "Tom is 3"));
        assertEquals(0, score(s, null, "{\"name\": \"Tom\", \"age\": 3} trailing"));
        assertThrows(IllegalArgumentException.class, () -> Scorer.of(RejectionSamplingRequest.Scorer.jsonSchema(
                ContractsJson.mapper().readTree("{\"type\": 12}")), null));
    }

    @Test
    void judgeRepliesAreReadLenientlyAndNonScoresAreNone() {
        assertEquals(7, RubricJudge.parse("Score: 7", 10).getAsDouble());
        assertEquals(7, RubricJudge.parse("The answer is fine.\n**Score:** 7", 10).getAsDouble());
        assertEquals(8.5, RubricJudge.parse("score = 8.5", 10).getAsDouble());
        assertEquals(6, RubricJudge.parse("{\"score\": 6, \"reason\": \"ok\"}", 10).getAsDouble());
        assertEquals(8, RubricJudge.parse("I'd give it 4 out of 5.", 10).getAsDouble());
        assertEquals(3, RubricJudge.parse("3/10", 10).getAsDouble());
        assertEquals(9, RubricJudge.parse(" 9. ", 10).getAsDouble());
        assertTrue(RubricJudge.parse("I cannot grade this.", 10).isEmpty());
        assertTrue(RubricJudge.parse("Score: 11", 10).isEmpty(), "out of range");
        assertTrue(RubricJudge.parse("", 10).isEmpty());
    }
}
