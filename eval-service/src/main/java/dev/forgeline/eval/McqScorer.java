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
 * all its choices, many contexts per forward, shortest padding first by sorting on length.
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
     * A question as the engine gets it: one context shared by every choice, or, when even zero
     * shots do not fit, one request per choice, each cut from the left as the harness cuts that
     * (context, continuation) pair: {@code (context + continuation)[-(window + 1):][:-1]}.
     */
    record Prepared(Question question, PromptFit fit, List<ContinuationScorer.Choices> requests) {}

    Prepared prepare(Question q, int shots) {
        int window = model.config().maxPositionEmbeddings();
        List<int[]> continuations = continuations(q, q.context(shots));
        int longest = continuations.stream().mapToInt(c -> c.length).max().orElseThrow();
        // the last continuation token is predicted, never fed: it needs no room
        PromptFit fit = PromptFit.fit(k -> tokenizer.encode(q.context(k), true), shots, window - (longest - 1));
        if (fit.shots() != shots) {
            continuations = continuations(q, q.context(fit.shots()));
        }
        if (fit.truncatedTokens() == 0) {
            return new Prepared(q, fit, List.of(new ContinuationScorer.Choices(fit.ids(), continuations)));
        }
        int[] full = tokenizer.encode(q.context(0), true);
        List<ContinuationScorer.Choices> perChoice = new ArrayList<>();
        for (int[] cont : continuations) {
            int room = window - (cont.length - 1);
            perChoice.add(new ContinuationScorer.Choices(
                    Arrays.copyOfRange(full, Math.max(0, full.length - room), full.length), List.of(cont)));
        }
        return new Prepared(q, fit, perChoice);
    }

    /** Each choice's tokens as the harness splits a pair: encode(context + continuation) past encode(context). */
    private List<int[]> continuations(Question q, String context) {
        // the context ends with "Answer:", so there is no trailing space to move onto the continuation
        int contextLength = tokenizer.encode(context, true).length;
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
        List<Prepared> prepared = new ArrayList<>(questions.size());
        for (Question q : questions) {
            prepared.add(prepare(q, shots));
        }
        Integer[] order = new Integer[prepared.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -prepared.get(i).requests().get(0).context().length));
        ContinuationScorer scorer = model.scorer(maxBatchTokens);
        ItemResult[] results = new ItemResult[prepared.size()];
        for (int from = 0; from < order.length; from += CHUNK) {
            List<Integer> chunk = Arrays.asList(order).subList(from, Math.min(order.length, from + CHUNK));
            List<ContinuationScorer.Choices> requests = new ArrayList<>();
            for (int i : chunk) {
                requests.addAll(prepared.get(i).requests());
            }
            List<List<ContinuationScorer.Score>> scores = scorer.score(requests);
            int at = 0;
            for (int i : chunk) {
                List<ContinuationScorer.Score> item = new ArrayList<>();
                for (int r = 0; r < prepared.get(i).requests().size(); r++) {
                    item.addAll(scores.get(at++));
                }
                results[i] = result(prepared.get(i), item);
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
