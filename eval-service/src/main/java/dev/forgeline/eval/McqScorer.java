package dev.forgeline.eval;

import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.generate.ContinuationScorer;
import dev.forgeline.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Log-likelihood multiple choice as lm-evaluation-harness's {@code mmlu} task scores it: each
 * choice's continuation ({@code " A"}, {@code " B"}, ...) is encoded as the harness encodes a
 * (context, continuation) pair, {@code encode(context + continuation)} minus the context's own
 * tokens, with the tokenizer's default special tokens (a Llama tokenizer's BOS), which is what
 * the harness's {@code hf} model does unless {@code add_bos_token} is set. The prediction is the
 * choice with the highest summed log-likelihood (the first on a tie, as numpy's argmax).
 *
 * <p>Questions run through the engine's {@link ContinuationScorer}: one forward per context for
 * all its choices, many contexts per forward, sorted by length so that batches carry little padding.
 */
final class McqScorer {
    /** Questions handed to the engine at once; progress and cancellation are checked between them. */
    static final int CHUNK = 512;

    private final LoadedModel model;
    private final Tokenizer tokenizer;
    private final int maxBatchTokens;

    McqScorer(LoadedModel model, Tokenizer tokenizer, int maxBatchTokens) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.maxBatchTokens = maxBatchTokens;
    }

    /**
     * A question as the engine gets it: one context shared by every choice. A prompt too long
     * even without shots is cut from the left so that the longest continuation fits; every choice
     * then sees that context. (The harness cuts each (context, choice) pair on its own, so a
     * shorter continuation would keep a few more old tokens: one more for {@code " B"} than for
     * {@code " A"} on stories260k. Forgeline drops shots before cutting anyway, so over-long
     * prompts follow its own documented rule, not the harness's.)
     */
    record Prepared(Question question, PromptFit fit, ContinuationScorer.Choices request) {}

    Prepared prepare(Question q, int shots) {
        int window = model.config().maxPositionEmbeddings();
        String context = q.context(shots);
        int[] ids = tokenizer.encode(context, true);
        List<int[]> continuations = continuations(q, context, ids.length);
        int longest = continuations.stream().mapToInt(c -> c.length).max().orElseThrow();
        // the last continuation token is predicted, never fed: it needs no room
        PromptFit fit = PromptFit.fit(k -> k == shots ? ids : tokenizer.encode(q.context(k), true), shots,
                window - (longest - 1));
        if (fit.shots() != shots) {
            String fewer = q.context(fit.shots());
            continuations = continuations(q, fewer, tokenizer.encode(fewer, true).length);
        }
        return new Prepared(q, fit, new ContinuationScorer.Choices(fit.ids(), continuations));
    }

    /** Each choice's tokens as the harness splits a pair: encode(context + continuation) past encode(context). */
    private List<int[]> continuations(Question q, String context, int contextLength) {
        // the context ends with "Answer:", so there is no trailing space to move onto the continuation
        List<int[]> out = new ArrayList<>();
        for (String c : MmluPrompt.continuations(q.item().choices().size())) {
            int[] whole = tokenizer.encode(context + c, true);
            if (whole.length <= contextLength) {
                throw new IllegalStateException("choice '" + c.strip() + "' of " + q.item().subject() + " item "
                        + q.item().index() + " encodes to no token after its context");
            }
            out.add(Arrays.copyOfRange(whole, contextLength, whole.length));
        }
        return out;
    }

    /** Results in the order of {@code questions}; {@code progress} hears the count done after each chunk. */
    List<ItemResult> score(List<Question> questions, int shots, IntConsumer progress) {
        // tokenizing is a fair share of the work for a small model: on every core
        List<Prepared> prepared = questions.parallelStream().map(q -> prepare(q, shots)).toList();
        Integer[] order = new Integer[prepared.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -prepared.get(i).fit().ids().length));
        ContinuationScorer scorer = model.scorer(maxBatchTokens);
        ItemResult[] results = new ItemResult[prepared.size()];
        for (int from = 0; from < order.length; from += CHUNK) {
            List<Integer> chunk = Arrays.asList(order).subList(from, Math.min(order.length, from + CHUNK));
            List<ContinuationScorer.Choices> requests = new ArrayList<>(chunk.size());
            for (int i : chunk) {
                requests.add(prepared.get(i).request());
            }
            List<List<ContinuationScorer.Score>> scores = scorer.score(requests);
            for (int j = 0; j < chunk.size(); j++) {
                results[chunk.get(j)] = result(prepared.get(chunk.get(j)), scores.get(j));
            }
            progress.accept(Math.min(order.length, from + CHUNK));
        }
        return Arrays.asList(results);
    }

    static ItemResult result(Prepared p, List<ContinuationScorer.Score> scores) {
        int n = scores.size();
        double[] ll = new double[n];
        int[] tokens = new int[n];
        int best = 0;
        int bestNorm = 0;
        for (int c = 0; c < n; c++) {
            ll[c] = scores.get(c).logprob();
            tokens[c] = scores.get(c).tokens();
            if (ll[c] > ll[best]) {
                best = c;
            }
            // acc_norm divides by the choice text's length in characters; MMLU's choices are single letters
            if (ll[c] / MmluPrompt.letter(c).length() > ll[bestNorm] / MmluPrompt.letter(bestNorm).length()) {
                bestNorm = c;
            }
        }
        return new ItemResult(p.question().item(), best, bestNorm, ll, tokens, p.fit().shots(),
                p.fit().truncatedTokens(), null);
    }
}
