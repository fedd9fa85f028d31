package dev.forgeline.eval;

import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.generate.ContinuationScorer;
import dev.forgeline.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
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
     * shots do not fit, one request per continuation length, its context cut from the left as the
     * harness cuts each (context, continuation) pair: {@code (context + continuation)[-(window + 1):][:-1]}.
     *
     * @param choices the choice indices of each request's continuations
     */
    record Prepared(Question question, PromptFit fit, List<ContinuationScorer.Choices> requests, List<int[]> choices) {}

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
        if (fit.truncatedTokens() == 0) {
            int[] all = java.util.stream.IntStream.range(0, continuations.size()).toArray();
            return new Prepared(q, fit, List.of(new ContinuationScorer.Choices(fit.ids(), continuations)), List.of(all));
        }
        int[] full = tokenizer.encode(q.context(0), true);
        java.util.SortedMap<Integer, List<Integer>> byLength = new java.util.TreeMap<>();
        for (int c = 0; c < continuations.size(); c++) {
            byLength.computeIfAbsent(continuations.get(c).length, k -> new ArrayList<>()).add(c);
        }
        List<ContinuationScorer.Choices> requests = new ArrayList<>();
        List<int[]> choices = new ArrayList<>();
        for (Map.Entry<Integer, List<Integer>> e : byLength.entrySet()) {
            int room = window - (e.getKey() - 1);
            int[] cut = Arrays.copyOfRange(full, Math.max(0, full.length - room), full.length);
            List<int[]> conts = new ArrayList<>();
            for (int c : e.getValue()) {
                conts.add(continuations.get(c));
            }
            requests.add(new ContinuationScorer.Choices(cut, conts));
            choices.add(e.getValue().stream().mapToInt(Integer::intValue).toArray());
        }
        return new Prepared(q, fit, requests, choices);
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
                Prepared p = prepared.get(i);
                ContinuationScorer.Score[] item = new ContinuationScorer.Score[q(p).choices().size()];
                for (int r = 0; r < p.requests().size(); r++) {
                    List<ContinuationScorer.Score> got = scores.get(at++);
                    for (int k = 0; k < got.size(); k++) {
                        item[p.choices().get(r)[k]] = got.get(k);
                    }
                }
                results[i] = result(p, Arrays.asList(item));
            }
            progress.accept(Math.min(order.length, from + CHUNK));
        }
        return Arrays.asList(results);
    }

    private static McqItem q(Prepared p) {
        return p.question().item();
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
