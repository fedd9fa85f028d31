package dev.forgeline.datagen.rejection;

import java.util.ArrayList;
import java.util.List;

/**
 * The answers sampled for one prompt, in the endpoint's order, each one's score (null: not
 * scorable), and the policy tokens the request cost. {@link #best()} is the first highest-scored
 * answer, {@link #worst()} the first lowest.
 */
public record PromptSamples(SamplePrompt prompt, List<String> answers, List<Double> scores, long promptTokens,
        long completionTokens) {
    public PromptSamples {
        answers = List.copyOf(answers);
        scores = java.util.Collections.unmodifiableList(new ArrayList<>(scores)); // nulls allowed
        if (answers.size() != scores.size()) {
            throw new IllegalArgumentException(answers.size() + " answers but " + scores.size() + " scores");
        }
    }

    /** Index of the best scored answer, or -1 when none was scored. */
    public int best() {
        int best = -1;
        for (int i = 0; i < scores.size(); i++) {
            if (scores.get(i) != null && (best < 0 || scores.get(i) > scores.get(best))) best = i;
        }
        return best;
    }

    /** Index of the worst scored answer, or -1 when none was scored. */
    public int worst() {
        int worst = -1;
        for (int i = 0; i < scores.size(); i++) {
            if (scores.get(i) != null && (worst < 0 || scores.get(i) < scores.get(worst))) worst = i;
        }
        return worst;
    }
}
