package dev.forgeline.engine.train;

import dev.forgeline.engine.config.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Tiny random Llama checkpoints and synthetic sequences for fast, exact tests. */
final class TinyModels {

    private TinyModels() {}

    /** 2 layers, hidden 16, 4 query heads over 2 kv heads (GQA), untied lm_head, vocab 40. */
    static ModelConfig config(boolean tied) {
        return ModelConfig.builder("llama").hiddenSize(16).intermediateSize(24).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(40).maxPositionEmbeddings(64)
                .tieWordEmbeddings(tied).build();
    }

    static Path write(Path dir, boolean tied) {
        return RandomCheckpoint.write(dir, config(tied), 7, 0.2);
    }

    /** Random sequences whose second half is the target. */
    static List<EncodedExample> sequences(int count, int minLength, int maxLength, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<EncodedExample> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int n = minLength + r.nextInt(maxLength - minLength + 1);
            int[] ids = new int[n];
            boolean[] target = new boolean[n];
            for (int t = 0; t < n; t++) {
                ids[t] = 3 + r.nextInt(vocab - 3);
                target[t] = t >= n / 2;
            }
            out.add(new EncodedExample(ids, target));
        }
        return out;
    }
}
