package dev.forgeline.datagen.rejection;

import dev.forgeline.contracts.RejectionSamplingRequest;
import dev.forgeline.datagen.teacher.Teacher;
import java.util.OptionalDouble;

/** Scores one sampled answer to a prompt in [0, 1]. Implementations are thread-safe. */
public interface Scorer {

    /**
     * The answer's score, or empty when it cannot be scored (a judge reply that is not a score, an
     * exact match without a reference); such answers are counted and never selected.
     */
    OptionalDouble score(SamplePrompt prompt, String answer);

    /** The scorer a request names; {@code judge} is the resolved judge model for type judge, else unused. */
    static Scorer of(RejectionSamplingRequest.Scorer spec, Teacher judge) {
        return switch (spec.type()) {
            case EXACT_MATCH -> new ExactMatchVerifier(spec.extract());
            case REGEX -> new RegexVerifier(spec.pattern());
            case JSON_SCHEMA -> new JsonSchemaVerifier(spec.schema());
            case JUDGE -> new RubricJudge(judge, spec.rubric(), spec.maxScore());
        };
    }
}
