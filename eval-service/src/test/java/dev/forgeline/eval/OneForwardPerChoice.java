package dev.forgeline.eval;

import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import dev.forgeline.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The harness's log-likelihood scoring done the plain way, as a reference for tests and the
 * baseline of {@code bench/run eval}: one full forward per (context + choice), no cache, no
 * batching, log-softmax in double here. Its own reading of the rules: shots dropped from the
 * last while the prompt plus the longest continuation (less its last token) exceeds the window,
 * then the context cut from the left to leave room for that longest continuation, the same cut
 * for every choice.
 */
final class OneForwardPerChoice {

    record Scored(int shots, int truncated, double[] loglikelihoods, int[] tokens, int prediction) {}

    private final CausalLm model;
    private final Tokenizer tokenizer;

    OneForwardPerChoice(LoadedModel loaded, Tokenizer tokenizer) {
        this.model = loaded.model();
        this.tokenizer = tokenizer;
    }

    Scored score(Question q, int shots) {
        int window = model.config().maxPositionEmbeddings();
        int choices = q.item().choices().size();
        for (int k = shots; ; k--) {
            String context = q.context(k);
            int[] ctx = tokenizer.encode(context, true);
            List<int[]> conts = new ArrayList<>();
            int longest = 0;
            for (int c = 0; c < choices; c++) {
                int[] whole = tokenizer.encode(context + " " + (char) ('A' + c), true);
                int[] cont = Arrays.copyOfRange(whole, ctx.length, whole.length);
                conts.add(cont);
                longest = Math.max(longest, cont.length);
            }
            if (ctx.length + longest - 1 > window && k > 0) {
                continue;
            }
            int cut = Math.max(0, ctx.length + longest - 1 - window);
            int[] kept = Arrays.copyOfRange(ctx, cut, ctx.length);
            double[] ll = new double[choices];
            int[] tokens = new int[choices];
            int best = 0;
            for (int c = 0; c < choices; c++) {
                ll[c] = loglikelihood(kept, conts.get(c));
                tokens[c] = conts.get(c).length;
                if (ll[c] > ll[best]) {
                    best = c;
                }
            }
            return new Scored(k, cut, ll, tokens, best);
        }
    }

    private double loglikelihood(int[] ctx, int[] cont) {
        int[] input = new int[ctx.length + cont.length - 1]; // the last continuation token is only predicted
        System.arraycopy(ctx, 0, input, 0, ctx.length);
        System.arraycopy(cont, 0, input, ctx.length, cont.length - 1);
        int vocab = model.config().vocabSize();
        float[] logits;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            logits = model.forward(model.tokens(m, List.of(input), input.length, 0), Step.uncached(m, model, 1, input.length))
                    .toFloatArray(); // (1, T, vocab)
        }
        double sum = 0;
        for (int j = 0; j < cont.length; j++) {
            int row = (input.length - cont.length + j) * vocab;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[row + v]);
            }
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[row + v] - max);
            }
            sum += logits[row + cont[j]] - max - Math.log(z);
        }
        return sum;
    }
}
