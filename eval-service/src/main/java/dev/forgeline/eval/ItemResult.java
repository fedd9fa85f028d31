package dev.forgeline.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One question's outcome, a line of {@code items.jsonl}: enough to compare two runs item by item.
 *
 * @param prediction      the chosen answer's index; -1 when a generated answer names none
 * @param predictionNorm  the choice with the highest log-likelihood per character of its text (acc_norm); -1 in generate mode
 * @param loglikelihoods  every choice's summed log-likelihood; null in generate mode
 * @param tokens          every choice's continuation length in tokens; null in generate mode
 * @param shots           examples actually put before the question (fewer than asked when the prompt did not fit)
 * @param truncatedTokens prompt tokens cut from the left because even zero shots did not fit
 * @param answer          generate mode: the model's text; null otherwise
 */
record ItemResult(McqItem item, int prediction, int predictionNorm, double[] loglikelihoods, int[] tokens, int shots,
        int truncatedTokens, String answer) {

    boolean correct() {
        return prediction == item.answer();
    }

    boolean correctNorm() {
        return predictionNorm == item.answer();
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("subject", item.subject());
        m.put("index", item.index());
        m.put("prediction", prediction < 0 ? null : MmluPrompt.letter(prediction));
        m.put("gold", MmluPrompt.letter(item.answer()));
        m.put("correct", correct());
        if (loglikelihoods != null) {
            m.put("loglikelihoods", Arrays.stream(loglikelihoods).boxed().toList());
            m.put("tokens", Arrays.stream(tokens).boxed().toList());
            m.put("prediction_norm", MmluPrompt.letter(predictionNorm));
        } else {
            m.put("answer", answer);
        }
        m.put("shots", shots);
        m.put("truncated_tokens", truncatedTokens);
        return m;
    }
}
