package dev.forgeline.datagen.rejection;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.contracts.PreferenceLine;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What rejection sampling keeps, from every prompt's scored samples: for SFT the best answer of each
 * prompt whose best score reaches the threshold; for preference the best against the worst answer of
 * each prompt where the best scored higher (and the texts differ). Each example carries its score.
 *
 * @param stats {@code prompts}, {@code samples}, {@code scored}, {@code unscored}, {@code mean_score},
 *     {@code max_score} (of the scored samples), {@code pass_rate} (share of scored samples at or above
 *     the threshold), {@code kept} (SFT examples), {@code dropped_below_threshold} (prompts whose best
 *     fell short), {@code unscored_prompts} (no scored answer), {@code pairs}, {@code no_margin}
 *     (prompts whose best and worst scored the same, or whose texts were the same)
 */
public record Selection(List<ScoredExample> sft, List<ScoredPair> pairs, Map<String, Object> stats) {

    /** An SFT example and its score: written as {@code {"messages": [...], "score": s}}. */
    public record ScoredExample(Conversation example, double score) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("messages", example.messages());
            m.put("score", score);
            return m;
        }
    }

    /**
     * A pair and its two scores: written in TRL's conversational shape with {@code score_chosen} and
     * {@code score_rejected}, as UltraFeedback's binarized sets carry them.
     */
    public record ScoredPair(PreferenceLine pair, double scoreChosen, double scoreRejected) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>(pair.toJson());
            m.put("score_chosen", scoreChosen);
            m.put("score_rejected", scoreRejected);
            return m;
        }
    }

    public static Selection of(List<PromptSamples> all, double threshold) {
        List<ScoredExample> sft = new ArrayList<>();
        List<ScoredPair> pairs = new ArrayList<>();
        long samples = 0;
        long scored = 0;
        long passed = 0;
        double sum = 0;
        double max = Double.NEGATIVE_INFINITY;
        long below = 0;
        long unscoredPrompts = 0;
        long noMargin = 0;
        for (PromptSamples p : all) {
            samples += p.answers().size();
            for (Double s : p.scores()) {
                if (s == null) continue;
                scored++;
                sum += s;
                max = Math.max(max, s);
                if (s >= threshold) passed++;
            }
            int best = p.best();
            if (best < 0) {
                unscoredPrompts++;
                continue;
            }
            double bestScore = p.scores().get(best);
            ChatTurn bestAnswer = ChatTurn.assistant(p.answers().get(best));
            if (bestScore >= threshold) {
                List<ChatTurn> turns = new ArrayList<>(p.prompt().messages());
                turns.add(bestAnswer);
                sft.add(new ScoredExample(new Conversation(turns), bestScore));
            } else {
                below++;
            }
            int worst = p.worst();
            double worstScore = p.scores().get(worst);
            if (bestScore > worstScore && !p.answers().get(best).strip().equals(p.answers().get(worst).strip())) {
                pairs.add(new ScoredPair(new PreferenceLine(p.prompt().messages(), bestAnswer,
                        ChatTurn.assistant(p.answers().get(worst))), bestScore, worstScore));
            } else {
                noMargin++;
            }
        }
        Map<String, Object> stats = new LinkedHashMap<>();
        stats.put("prompts", all.size());
        stats.put("samples", samples);
        stats.put("scored", scored);
        stats.put("unscored", samples - scored);
        stats.put("mean_score", scored == 0 ? null : sum / scored);
        stats.put("max_score", scored == 0 ? null : max);
        stats.put("pass_rate", scored == 0 ? null : (double) passed / scored);
        stats.put("threshold", threshold);
        stats.put("kept", sft.size());
        stats.put("dropped_below_threshold", below);
        stats.put("unscored_prompts", unscoredPrompts);
        stats.put("pairs", pairs.size());
        stats.put("no_margin", noMargin);
        stats.values().removeIf(java.util.Objects::isNull);
        return new Selection(sft, pairs, stats);
    }
}
