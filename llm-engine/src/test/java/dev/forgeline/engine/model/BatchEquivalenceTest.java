package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A batch of sequences of different lengths must compute what each computes alone. */
class BatchEquivalenceTest {

    static final double TOLERANCE = 1e-5;

    @Test
    void paddedBatchForwardEqualsEachSequenceAlone(@TempDir Path dir) {
        ModelConfig config = TinyModels.qwen2Bias();
        try (CausalLm model = TinyModels.write(dir, config, 21)) {
            int vocab = config.vocabSize();
            List<int[]> seqs = List.of(
                    TinyModels.randomIds(9, vocab, 1),
                    TinyModels.randomIds(3, vocab, 2),
                    TinyModels.randomIds(14, vocab, 3));
            int longest = 14;
            float[] batched;
            try (NDManager m = model.manager().newSubManager()) {
                batched = model.forward(model.tokens(m, seqs, longest, 0), Step.uncached(m, model, seqs.size(), longest))
                        .toFloatArray();
            }
            double maxDiff = 0;
            for (int b = 0; b < seqs.size(); b++) {
                float[] alone = KvCacheEquivalenceTest.fullRecompute(model, seqs.get(b));
                for (int t = 0; t < seqs.get(b).length; t++) {
                    for (int v = 0; v < vocab; v++) {
                        float x = batched[(b * longest + t) * vocab + v];
                        maxDiff = Math.max(maxDiff, Math.abs(x - alone[t * vocab + v]));
                    }
                }
            }
            assertTrue(maxDiff < TOLERANCE, "max |batched - alone| = " + maxDiff);
        }
    }

    /**
     * Small batches rotate with per-row matrices, wide ones with cos/sin tables (the matrices
     * would outgrow the caches): both decode paths must agree with the uncached forward.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "head_dim {0}, {1} rows")
    @org.junit.jupiter.params.provider.CsvSource({"16, 4", "64, 6"})
    void batchedCachedDecodeOfDifferentLengthsEqualsEachAlone(int headDim, int rows, @TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied().toBuilder().headDim(headDim).build();
        try (CausalLm model = TinyModels.write(dir, config, 22)) {
            int vocab = config.vocabSize();
            int[] lengths = java.util.Arrays.copyOf(new int[] {5, 12, 1, 8, 3, 7}, rows);
            List<int[]> seqs = new ArrayList<>();
            for (int i = 0; i < lengths.length; i++) {
                seqs.add(TinyModels.randomIds(lengths[i] + 3, vocab, 40 + i));
            }
            try (KvCache cache = new KvCache(model.manager(), config, lengths.length, 32, model.dataType())) {
                // Prefill each row with its own prompt length, the way a scheduler adds sequences.
                for (int b = 0; b < lengths.length; b++) {
                    int[] prompt = Arrays.copyOf(seqs.get(b), lengths[b]);
                    try (NDManager m = model.manager().newSubManager()) {
                        Step step = Step.cached(m, model, cache, b, 1, prompt.length);
                        model.forward(model.tokens(m, List.of(prompt), prompt.length, 0), step);
                    }
                    cache.setLength(b, lengths[b]);
                }
                double maxDiff = 0;
                // Three batched decode steps, every row at its own position.
                for (int s = 0; s < 3; s++) {
                    List<int[]> next = new ArrayList<>();
                    for (int b = 0; b < lengths.length; b++) {
                        next.add(new int[] {seqs.get(b)[lengths[b] + s]});
                    }
                    float[] logits;
                    try (NDManager m = model.manager().newSubManager()) {
                        Step step = Step.cached(m, model, cache, 0, lengths.length, 1);
                        logits = model.forward(model.tokens(m, next, 1, 0), step).toFloatArray();
                    }
                    for (int b = 0; b < lengths.length; b++) {
                        cache.setLength(b, cache.length(b) + 1);
                        int pos = lengths[b] + s;
                        float[] alone = KvCacheEquivalenceTest.fullRecompute(model, Arrays.copyOf(seqs.get(b), pos + 1));
                        for (int v = 0; v < vocab; v++) {
                            maxDiff = Math.max(maxDiff, Math.abs(logits[b * vocab + v] - alone[pos * vocab + v]));
                        }
                    }
                }
                assertTrue(maxDiff < TOLERANCE, "max |batched decode - alone| = " + maxDiff);
            }
        }
    }
}
