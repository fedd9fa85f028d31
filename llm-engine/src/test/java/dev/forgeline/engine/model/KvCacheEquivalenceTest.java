package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Decoding with the KV cache must give the logits of recomputing the whole sequence. */
class KvCacheEquivalenceTest {

    static final double TOLERANCE = 1e-5;

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of("llama-gqa-untied", TinyModels.llamaGqaUntied()),
                Arguments.of("qwen2-bias", TinyModels.qwen2Bias()),
                Arguments.of("llama3-rope-scaling", TinyModels.llama3RopeScaling()),
                Arguments.of("mistral-linear-rope", TinyModels.mistralLinear()));
    }

    /** Logits at every position of one sequence, no cache: (T, vocab) row-major. */
    static float[] fullRecompute(CausalLm model, int[] ids) {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray tokens = model.tokens(m, List.of(ids), ids.length, 0);
            return model.forward(tokens, Step.uncached(m, model, 1, ids.length)).toFloatArray();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void cachedDecodeMatchesFullRecompute(String name, ModelConfig config, @TempDir Path dir) {
        try (CausalLm model = TinyModels.write(dir, config, 7)) {
            int vocab = config.vocabSize();
            int[] ids = TinyModels.randomIds(40, vocab, 11);
            float[] expected = fullRecompute(model, ids);
            // Prefill 7 tokens, a chunk of 5 more (a multi-token step on a non-empty cache), then one by one.
            try (KvCache cache = new KvCache(model.manager(), config, 1, 64, model.dataType())) {
                double maxDiff = 0;
                int pos = 0;
                int[] chunks = new int[] {7, 5};
                for (int c = 0; pos < ids.length; c++) {
                    int t = c < chunks.length ? chunks[c] : 1;
                    int[] chunk = java.util.Arrays.copyOfRange(ids, pos, pos + t);
                    try (NDManager m = model.manager().newSubManager()) {
                        Step step = Step.cached(m, model, cache, 0, 1, t);
                        float[] logits = model.forward(model.tokens(m, List.of(chunk), t, 0), step).toFloatArray();
                        for (int i = 0; i < t * vocab; i++) {
                            maxDiff = Math.max(maxDiff, Math.abs(logits[i] - expected[pos * vocab + i]));
                        }
                    }
                    pos += t;
                    cache.setLength(0, pos);
                }
                assertTrue(maxDiff < TOLERANCE, name + ": max |cached - recomputed| = " + maxDiff);
            }
            // The logits are not trivially small: a comparison at 1e-5 means something.
            double scale = 0;
            for (float v : expected) {
                scale = Math.max(scale, Math.abs(v));
            }
            assertTrue(scale > 0.5, "logit scale " + scale);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void positionsMatterAndWeightsLoadAsWritten(String name, ModelConfig config, @TempDir Path dir) {
        try (CausalLm model = TinyModels.write(dir, config, 3)) {
            int[] ids = TinyModels.randomIds(6, config.vocabSize(), 5);
            int[] swapped = ids.clone();
            swapped[0] = ids[1];
            swapped[1] = ids[0];
            float[] a = fullRecompute(model, ids);
            float[] b = fullRecompute(model, swapped);
            int last = (ids.length - 1) * config.vocabSize();
            double diff = 0;
            for (int i = 0; i < config.vocabSize(); i++) {
                diff = Math.max(diff, Math.abs(a[last + i] - b[last + i]));
            }
            // Order of earlier tokens must change the last logits (rotary positions and causality at work).
            assertTrue(diff > 1e-3, name + ": swapping two earlier tokens changed nothing");
            assertEquals(ids.length * config.vocabSize(), a.length);
        }
    }

    @org.junit.jupiter.api.Test
    void cacheGrowsPastItsInitialSizeWithoutChangingResults(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied().toBuilder().maxPositionEmbeddings(512).build();
        try (CausalLm model = TinyModels.write(dir, config, 17)) {
            int vocab = config.vocabSize();
            int[] ids = TinyModels.randomIds(300, vocab, 4);
            float[] expected = fullRecompute(model, ids);
            double maxDiff = 0;
            try (KvCache cache = new KvCache(model.manager(), config, 1, 512, model.dataType())) {
                int pos = 0;
                while (pos < ids.length) {
                    int t = pos == 0 ? 250 : 1; // the storage starts at 256 positions and must double
                    int[] chunk = java.util.Arrays.copyOfRange(ids, pos, pos + t);
                    try (NDManager m = model.manager().newSubManager()) {
                        float[] logits = model.forward(model.tokens(m, List.of(chunk), t, 0),
                                Step.cached(m, model, cache, 0, 1, t)).toFloatArray();
                        for (int i = 0; i < t * vocab; i++) {
                            maxDiff = Math.max(maxDiff, Math.abs(logits[i] - expected[pos * vocab + i]));
                        }
                    }
                    pos += t;
                    cache.setLength(0, pos);
                }
            }
            assertTrue(maxDiff < TOLERANCE, "max |cached - recomputed| = " + maxDiff);
        }
    }
}
