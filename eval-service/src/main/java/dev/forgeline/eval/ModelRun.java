package dev.forgeline.eval;

import dev.forgeline.engine.train.HeldOutLoss;
import dev.forgeline.engine.train.HeldOutPreferences;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one model scored: its items (in question order) and its held-out loss.
 *
 * @param shots        shots the request asked for
 * @param heldOut      a held-out chat set's loss; null without one
 * @param heldOutPairs a held-out preference set's log-probs; null without one
 */
record ModelRun(String model, int shots, List<ItemResult> items, double seconds, HeldOutLoss.Result heldOut,
        HeldOutPreferences.Result heldOutPairs) {

    Accuracy.Summary accuracy() {
        return Accuracy.of(bySubject(items, false));
    }

    Double micro() {
        return items.isEmpty() ? null : accuracy().micro().accuracy();
    }

    /** The chat set's loss per target token, or a preference set's on its chosen replies. */
    Double heldOutLoss() {
        if (heldOut != null) return heldOut.loss();
        return heldOutPairs == null ? null : Double.valueOf(heldOutPairs.chosenLoss());
    }

    boolean[] correct() {
        boolean[] c = new boolean[items.size()];
        for (int i = 0; i < c.length; i++) {
            c[i] = items.get(i).correct();
        }
        return c;
    }

    /** The report's section for this model. */
    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        if (!items.isEmpty()) {
            Accuracy.Summary acc = accuracy();
            m.put("acc", score(acc.micro()));
            m.put("acc_macro", score(acc.macro()));
            if (items.get(0).loglikelihoods() != null) {
                Accuracy.Summary norm = Accuracy.of(bySubject(items, true));
                m.put("acc_norm", score(norm.micro()));
                m.put("acc_norm_macro", score(norm.macro()));
            } else {
                m.put("unparseable", items.stream().filter(i -> i.prediction() < 0).count());
            }
            Map<String, Object> subjects = new LinkedHashMap<>();
            acc.subjects().forEach((s, v) -> {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("n", v.n());
                e.put("correct", v.correct());
                e.put("acc", v.accuracy());
                e.put("acc_stderr", finite(v.stderr()));
                subjects.put(s, e);
            });
            m.put("subjects", subjects);
            Map<String, Object> fit = new LinkedHashMap<>();
            fit.put("items_with_fewer_shots", items.stream().filter(i -> i.shots() < shots).count());
            fit.put("shots_dropped", items.stream().mapToLong(i -> shots - i.shots()).sum());
            fit.put("items_truncated", items.stream().filter(i -> i.truncatedTokens() > 0).count());
            fit.put("tokens_truncated", items.stream().mapToLong(ItemResult::truncatedTokens).sum());
            m.put("prompt_fit", fit);
            m.put("items", items.size());
            m.put("seconds", seconds);
            m.put("items_per_s", seconds > 0 ? items.size() / seconds : null);
        }
        if (heldOut != null) {
            m.put("held_out", Map.of("loss", heldOut.loss(), "perplexity", heldOut.perplexity(),
                    "target_tokens", heldOut.targetTokens(), "examples", heldOut.stats().kept(),
                    "truncated", heldOut.stats().truncated(), "dropped", heldOut.stats().dropped()));
        }
        if (heldOutPairs != null) {
            m.put("held_out", Map.of("loss", heldOutPairs.chosenLoss(), "loss_on", "chosen replies",
                    "chosen_tokens", heldOutPairs.chosenTokens(), "pairs", heldOutPairs.stats().kept(),
                    "pairwise_accuracy", heldOutPairs.pairwiseAccuracy(),
                    "truncated", heldOutPairs.stats().truncated(), "dropped", heldOutPairs.stats().dropped()));
        }
        return m;
    }

    private static Map<String, Object> score(Accuracy.Score s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("value", s.accuracy());
        m.put("stderr", finite(s.stderr()));
        m.put("n", s.n());
        return m;
    }

    /** JSON has no NaN: a standard error of fewer than two items is null. */
    static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static Map<String, boolean[]> bySubject(List<ItemResult> items, boolean norm) {
        Map<String, List<ItemResult>> grouped = new LinkedHashMap<>();
        items.forEach(i -> grouped.computeIfAbsent(i.item().subject(), s -> new ArrayList<>()).add(i));
        Map<String, boolean[]> out = new LinkedHashMap<>();
        grouped.forEach((s, list) -> {
            boolean[] c = new boolean[list.size()];
            for (int i = 0; i < c.length; i++) {
                c[i] = norm ? list.get(i).correctNorm() : list.get(i).correct();
            }
            out.put(s, c);
        });
        return out;
    }
}
