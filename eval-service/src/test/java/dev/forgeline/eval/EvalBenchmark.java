package dev.forgeline.eval;

import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code bench/run eval}: the whole MMLU test set (14,042 items), 0-shot, on stories260k on the
 * CPU, through the batched scorer, against {@link OneForwardPerChoice} on an evenly spread
 * sample of the same items (extrapolated; its predictions must agree with the batched run's).
 * Goal: batched at least 5x the plain path, and the whole set in under 5 minutes. The last line
 * is one JSON object.
 */
public final class EvalBenchmark {
    private static final int SAMPLE_EVERY = 47; // about 300 items for the plain path

    public static void main(String[] args) {
        int batchTokens = Integer.getInteger("bench.batch-tokens", 1024);
        McqSet set = McqSet.read(SharedSets.mmlu());
        List<Question> questions = new ArrayList<>();
        for (String subject : set.subjects()) {
            set.test(subject).forEach(item -> questions.add(new Question(item, List.of())));
        }
        try (LoadedModel model = LoadedModel.load(SharedData.model("stories260k"), ComputeTarget.cpu());
                Tokenizer tokenizer = Tokenizer.load(SharedData.model("stories260k"))) {
            McqScorer scorer = new McqScorer(model, tokenizer, batchTokens);
            scorer.score(questions.subList(0, 500), 0, done -> { }); // JIT and libtorch warm-up

            long t0 = System.nanoTime();
            List<ItemResult> results = scorer.score(questions, 0, done -> { });
            double batchedSeconds = (System.nanoTime() - t0) / 1e9;
            Accuracy.Summary acc = Accuracy.of(bySubject(results));

            OneForwardPerChoice plain = new OneForwardPerChoice(model, tokenizer);
            plain.score(questions.get(0), 0);
            int sampled = 0;
            int disagree = 0;
            long t1 = System.nanoTime();
            for (int i = 0; i < questions.size(); i += SAMPLE_EVERY) {
                if (plain.score(questions.get(i), 0).prediction() != results.get(i).prediction()) {
                    disagree++;
                }
                sampled++;
            }
            double plainSeconds = (System.nanoTime() - t1) / 1e9;

            double batchedRate = questions.size() / batchedSeconds;
            double plainRate = sampled / plainSeconds;
            double ratio = batchedRate / plainRate;
            long truncated = results.stream().filter(r -> r.truncatedTokens() > 0).count();
            System.out.printf(Locale.ROOT, "batched: %d items in %.1f s, %.1f items/s (%d padded tokens per forward)%n",
                    questions.size(), batchedSeconds, batchedRate, batchTokens);
            System.out.printf(Locale.ROOT, "one forward per choice: %d sampled items in %.1f s, %.1f items/s"
                    + " (the whole set would take %.0f s)%n", sampled, plainSeconds, plainRate, questions.size() / plainRate);
            System.out.printf(Locale.ROOT, "accuracy %.4f (stderr %.4f), macro %.4f; %d prompts cut to the 512-token window;"
                    + " %d of %d sampled predictions differ%n", acc.micro().accuracy(), acc.micro().stderr(),
                    acc.macro().accuracy(), truncated, disagree, sampled);
            boolean met = ratio >= 5 && batchedSeconds < 300 && disagree == 0;
            System.out.printf(Locale.ROOT, "{\"bench\":\"eval\",\"items\":%d,\"batched_items_per_s\":%.1f,"
                    + "\"batched_seconds\":%.1f,\"naive_items_per_s\":%.1f,\"naive_sampled_items\":%d,\"ratio\":%.2f,"
                    + "\"accuracy\":%.4f,\"accuracy_macro\":%.4f,\"goal\":\"batched >= 5x naive and the set in < 300 s\","
                    + "\"goal_met\":%s}%n", questions.size(), batchedRate, batchedSeconds, plainRate, sampled, ratio,
                    acc.micro().accuracy(), acc.macro().accuracy(), met);
        }
    }

    private static java.util.Map<String, boolean[]> bySubject(List<ItemResult> results) {
        java.util.Map<String, List<ItemResult>> grouped = new java.util.TreeMap<>();
        results.forEach(r -> grouped.computeIfAbsent(r.item().subject(), s -> new ArrayList<>()).add(r));
        java.util.Map<String, boolean[]> out = new java.util.TreeMap<>();
        grouped.forEach((s, list) -> {
            boolean[] c = new boolean[list.size()];
            for (int i = 0; i < c.length; i++) c[i] = list.get(i).correct();
            out.put(s, c);
        });
        return out;
    }
}
