package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import java.util.ArrayList;
import java.util.List;

/**
 * Direct Preference Optimization (Rafailov et al. 2023), eq. 7, per pair (x, y_w, y_l):
 *
 * <pre>
 *   log pi(y|x)  = sum over y's target tokens of log pi(y_t | x, y_&lt;t)
 *   z            = beta * ((log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x)))
 *   loss         = -log sigmoid(z) + alpha * (-log pi(y_w|x) / |y_w|)
 * </pre>
 *
 * The optional second term is the NLL of the chosen reply per token (Llama 3.1 adds it with a
 * small coefficient so the chosen reply's likelihood does not fall along with the rejected
 * one's); {@code alpha} 0 is plain DPO. The reference is the policy's own base weights with the
 * LoRA adapters switched off ({@link CausalLm#withoutAdapters}), evaluated once per pair.
 * {@code z} is the pair's reward margin; a pair counts as right when it is positive.
 */
public final class DpoLoss {

    private final double beta;
    private final double alpha;

    public DpoLoss(double beta, double alpha) {
        if (!(beta > 0)) {
            throw new IllegalArgumentException("beta must be > 0, was " + beta);
        }
        if (!(alpha >= 0)) {
            throw new IllegalArgumentException("alpha must be >= 0, was " + alpha);
        }
        this.beta = beta;
        this.alpha = alpha;
    }

    /** The reference's log-probabilities of a pair's two replies. */
    public record Reference(double chosen, double rejected) {}

    /** Summed loss over the pairs (a scalar, with the graph of the policy log-probs) and each pair's margin z. */
    public record Result(NDArray lossSum, double[] margins) {}

    /**
     * @param policyChosen   (P) log pi(y_w|x), with the graph
     * @param policyRejected (P) log pi(y_l|x)
     * @param chosenTokens   |y_w| per pair, the NLL term's normaliser
     */
    public Result loss(NDManager m, NDArray policyChosen, NDArray policyRejected, List<Reference> reference,
            int[] chosenTokens) {
        int p = reference.size();
        double[] refDiff = new double[p];
        double[] inverseLength = new double[p];
        for (int i = 0; i < p; i++) {
            refDiff[i] = reference.get(i).chosen() - reference.get(i).rejected();
            inverseLength[i] = 1.0 / chosenTokens[i];
        }
        DataType dtype = policyChosen.getDataType();
        NDArray z = policyChosen.sub(policyRejected).sub(m.create(refDiff).toType(dtype, false)).mul(beta); // (P)
        // -log sigmoid(z) = softplus(-z) = max(-z, 0) + log(1 + exp(-|z|)), finite for any z
        NDArray loss = z.neg().maximum(0).add(z.abs().neg().exp().add(1).log());
        if (alpha > 0) {
            loss = loss.sub(policyChosen.mul(m.create(inverseLength).toType(dtype, false)).mul(alpha));
        }
        double[] margins = z.toType(DataType.FLOAT64, false).toDoubleArray();
        return new Result(loss.sum(), margins);
    }

    /** Chosen replies in rows 0..P-1, rejected in rows P..2P-1: both run as one batch. */
    static Batch batch(List<PreferencePair> pairs, int padId) {
        List<List<EncodedExample>> rows = new ArrayList<>(2 * pairs.size());
        pairs.forEach(pair -> rows.add(List.of(pair.chosen())));
        pairs.forEach(pair -> rows.add(List.of(pair.rejected())));
        return BatchPlan.batch(rows, padId);
    }

    /** The policy's log-probs of a pair batch: [chosen (P), rejected (P)], with the graph when recording. */
    static NDArray[] policy(TrainingForward forward, NDManager m, List<PreferencePair> pairs, int padId) {
        NDArray all = forward.sequenceLogProbs(m, batch(pairs, padId)); // (2P)
        int p = pairs.size();
        return new NDArray[] {all.get("0:" + p), all.get(p + ":")};
    }

    /** The reference log-probs of every pair: the model with its adapters off, no graph, in batches of {@code size} pairs. */
    public static List<Reference> reference(CausalLm model, TrainingForward forward, List<PreferencePair> pairs,
            int size, int padId) {
        return model.withoutAdapters(() -> {
            List<Reference> out = new ArrayList<>(pairs.size());
            try (NoGradient ignored = NoGradient.enter()) {
                for (int from = 0; from < pairs.size(); from += size) {
                    List<PreferencePair> chunk = pairs.subList(from, Math.min(from + size, pairs.size()));
                    try (NDManager scope = model.manager().newSubManager()) {
                        NDArray[] lp = policy(forward, scope, chunk, padId);
                        double[] c = lp[0].toType(DataType.FLOAT64, false).toDoubleArray();
                        double[] r = lp[1].toType(DataType.FLOAT64, false).toDoubleArray();
                        for (int i = 0; i < c.length; i++) {
                            out.add(new Reference(c[i], r[i]));
                        }
                    }
                }
            }
            return out;
        });
    }

    static int[] chosenTokens(List<PreferencePair> pairs) {
        return pairs.stream().mapToInt(pair -> pair.chosen().targetCount()).toArray();
    }

    public double beta() {
        return beta;
    }

    public double alpha() {
        return alpha;
    }
}
