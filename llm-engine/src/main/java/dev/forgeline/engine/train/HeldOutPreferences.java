package dev.forgeline.engine.train;

import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.tokenizer.ChatTemplate;
import dev.forgeline.engine.tokenizer.Tokenizer;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A held-out preference set scored by one model, DPO's quantities without a graph: per pair,
 * log p(chosen|x) and log p(rejected|x) summed over the reply tokens, formatting tokens masked as
 * in training. An evaluation compares a model's figures with its base's: the reward accuracy is
 * the share of pairs whose DPO margin against the base is positive (what the trainer reports as
 * held-out preference accuracy), and the chosen replies' loss per token is the held-out loss.
 */
public final class HeldOutPreferences {

    /**
     * @param logProbs     each kept pair's summed log-probs, in the set's order
     * @param chosenTokens target tokens of the kept chosen replies
     */
    public record Result(List<DpoLoss.Reference> logProbs, long chosenTokens, PreferenceEncoder.Stats stats) {

        /** Mean negative log-likelihood per token of the chosen replies; NaN without a target token. */
        public double chosenLoss() {
            return chosenTokens == 0 ? Double.NaN : -logProbs.stream().mapToDouble(DpoLoss.Reference::chosen).sum() / chosenTokens;
        }

        /** Share of pairs this model alone ranks above: log p(chosen) > log p(rejected). */
        public double pairwiseAccuracy() {
            return logProbs.stream().filter(p -> p.chosen() > p.rejected()).count() / (double) logProbs.size();
        }

        /**
         * Share of pairs with a positive DPO margin against {@code reference} (the base on the same
         * pairs): (log p(y_w) - log ref(y_w)) - (log p(y_l) - log ref(y_l)) > 0.
         */
        public double rewardAccuracy(Result reference) {
            List<DpoLoss.Reference> ref = reference.logProbs();
            if (ref.size() != logProbs.size()) {
                throw new IllegalArgumentException("the reference kept " + ref.size() + " pairs, this model " + logProbs.size()
                        + ": they read the set with different tokenizers or lengths");
            }
            long positive = IntStream.range(0, ref.size()).filter(i -> (logProbs.get(i).chosen() - ref.get(i).chosen())
                    - (logProbs.get(i).rejected() - ref.get(i).rejected()) > 0).count();
            return positive / (double) ref.size();
        }
    }

    private HeldOutPreferences() {}

    public static Result of(CausalLm model, Tokenizer tokenizer, ChatTemplate template, List<PreferenceExample> examples,
            int maxSeqLength, int batchSize) {
        PreferenceEncoder.Stats[] stats = new PreferenceEncoder.Stats[1];
        List<PreferencePair> pairs = new PreferenceEncoder(tokenizer, template, maxSeqLength, true).encodeAll(examples, stats);
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("no held-out pair has a reply token within " + maxSeqLength + " tokens");
        }
        List<DpoLoss.Reference> logProbs = DpoLoss.reference(model, new TrainingForward(model), pairs, batchSize,
                TrainingData.padId(tokenizer));
        return new Result(logProbs, IntStream.of(DpoLoss.chosenTokens(pairs)).asLongStream().sum(), stats[0]);
    }
}
