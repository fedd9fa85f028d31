package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.generate.Sampler;
import dev.forgeline.engine.train.TrainableSet;
import dev.forgeline.engine.train.TrainingConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java-side decode step must give the tensor path's logits and leave the same keys and
 * values in the cache (later steps read what earlier ones wrote), for rows of different lengths,
 * on one thread and on two, on the Vector API (products in Java for four rows, the most it
 * takes, and its attention) and without (products in libtorch, where four rows take the 64-feature
 * blocks where the width divides and on two threads the per-thread blocks elsewhere: both layouts
 * are read back; attention in scalar Java).
 */
class CpuDecodeKernelTest {

    /**
     * Row 0 grows the cache from 256 positions to this, which is not a multiple of the vector
     * width: its last positions take the attention's one-position loop, the others whole vectors.
     */
    private static final int CACHE_LENGTH = 264;

    static Stream<Arguments> shapesAndThreads() {
        List<Arguments> cases = new ArrayList<>();
        for (boolean vectorApi : new boolean[] {true, false}) {
            for (int threads : new int[] {1, 2}) {
                cases.add(Arguments.of("llama-gqa-untied", TinyModels.llamaGqaUntied(), threads, vectorApi));
                cases.add(Arguments.of("qwen2-bias", TinyModels.qwen2Bias(), threads, vectorApi));
                cases.add(Arguments.of("llama3-rope-scaling", TinyModels.llama3RopeScaling(), threads, vectorApi));
                cases.add(Arguments.of("mistral-linear-rope", TinyModels.mistralLinear(), threads, vectorApi));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}, {2} thread(s), Vector API: {3}")
    @MethodSource("shapesAndThreads")
    void decodesLikeTheTensorPath(String name, ModelConfig shape, int threads, boolean vectorApi, @TempDir Path dir) {
        ModelConfig config = shape.toBuilder().maxPositionEmbeddings(512).build();
        Engine.getInstance(); // loads libtorch before the thread calls
        int before = JniUtils.getNumThreads();
        JniUtils.setNumThreads(threads); // before the first product: projections pick their views then
        int n = threads == 1 ? 4 : 8; // on the Vector API, four rows share weight loads; eight read each block twice
        try (CausalLm model = TinyModels.write(dir, config, 5);
                KvCache tensorCache = new KvCache(model.manager(), config, n, CACHE_LENGTH, model.dataType());
                KvCache kernelCache = new KvCache(model.manager(), config, n, CACHE_LENGTH, model.dataType());
                CpuDecodeKernel kernel = new CpuDecodeKernel(model, vectorApi)) {
            int vocab = config.vocabSize();
            // Row 0 crosses the cache's initial 256 positions while decoding, so the storage grows under the kernel.
            int[][] prompts = new int[n][];
            prompts[0] = TinyModels.randomIds(250, vocab, 1);
            for (int b = 1; b < n; b++) {
                prompts[b] = TinyModels.randomIds(2 + (7 * b) % 12, vocab, b + 1);
            }
            int[] next = new int[n];
            for (int b = 0; b < n; b++) {
                for (KvCache cache : new KvCache[] {tensorCache, kernelCache}) {
                    prefill(model, cache, b, prompts[b]);
                }
                next[b] = prompts[b][prompts[b].length - 1];
            }
            assertTrue(CpuDecodeKernel.handles(model, kernelCache));
            double maxDiff = 0;
            double scale = 0;
            for (int s = 0; s < 15; s++) {
                int rows = s < 12 ? n : 1; // then row 0 alone, on the weights that the batch packed
                float[] expected = tensorStep(model, tensorCache, next, rows);
                float[] actual = kernel.step(kernelCache, next, rows);
                for (int i = 0; i < expected.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
                    scale = Math.max(scale, Math.abs(expected[i]));
                }
                for (int b = 0; b < rows; b++) {
                    tensorCache.setLength(b, tensorCache.length(b) + 1);
                    kernelCache.setLength(b, kernelCache.length(b) + 1);
                    next[b] = Sampler.argmax(expected, b * vocab, vocab);
                }
            }
            assertTrue(maxDiff < 1e-5, name + ": max |kernel - tensor path| = " + maxDiff);
            assertTrue(scale > 0.5, "logit scale " + scale); // a 1e-5 comparison of near-zero logits would prove little
            // with 16-float vectors the batched steps packed the weights, and the last steps read that copy
            assertEquals(vectorApi && PackedMatmul.pays(), kernel.prefills(), "weights packed by the batched steps");
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of("llama-gqa-untied", TinyModels.llamaGqaUntied()),
                Arguments.of("qwen2-bias", TinyModels.qwen2Bias()),
                Arguments.of("llama3-rope-scaling", TinyModels.llama3RopeScaling()),
                Arguments.of("mistral-linear-rope", TinyModels.mistralLinear()));
    }

    /**
     * Once a batched step has packed the weights, a prompt's positions go through the kernel
     * PREFILL_CHUNK at a time (here four chunks and six positions, the cache growing past 256 in
     * the last): the last position's logits as the tensor path's, and the keys and values that the
     * steps after it read. Into row 1 of two, so that the chunks must write the right row.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void prefillsLikeTheTensorPath(String name, ModelConfig shape, @TempDir Path dir) {
        VectorWidth.assumeSixteenFloats("CpuDecodeKernelTest.prefillsLikeTheTensorPath(" + name + ")");
        ModelConfig config = shape.toBuilder().maxPositionEmbeddings(512).build();
        Engine.getInstance();
        int before = JniUtils.getNumThreads();
        JniUtils.setNumThreads(2); // the positions' keys are stored by both threads before either attends
        try (CausalLm model = TinyModels.write(dir, config, 5);
                KvCache tensorCache = new KvCache(model.manager(), config, 2, CACHE_LENGTH, model.dataType());
                KvCache kernelCache = new KvCache(model.manager(), config, 2, CACHE_LENGTH, model.dataType());
                CpuDecodeKernel kernel = new CpuDecodeKernel(model, true)) {
            int vocab = config.vocabSize();
            int[] first = TinyModels.randomIds(9, vocab, 1);
            prefill(model, tensorCache, 0, first);
            prefill(model, kernelCache, 0, first);
            assertFalse(kernel.prefills(), "nothing is packed before a batched step");
            try (KvCache scratch = new KvCache(model.manager(), config, 2, 16, model.dataType())) {
                kernel.step(scratch, new int[] {1, 2}, 2);
            }
            assertTrue(kernel.prefills());

            int[] prompt = TinyModels.randomIds(4 * CpuDecodeKernel.PREFILL_CHUNK + 6, vocab, 2);
            float[] expected = tensorPrefill(model, tensorCache, 1, prompt);
            float[] actual = kernel.prefill(kernelCache, 1, prompt);
            kernelCache.setLength(1, prompt.length);
            assertClose(expected, actual, name + ", prefill");
            int[] next = {first[first.length - 1], Sampler.argmax(expected, 0, vocab)};
            for (int s = 0; s < 2; s++) {
                expected = tensorStep(model, tensorCache, next, 2);
                actual = kernel.step(kernelCache, next, 2);
                assertClose(expected, actual, name + ", step " + s);
                for (int b = 0; b < 2; b++) {
                    tensorCache.setLength(b, tensorCache.length(b) + 1);
                    kernelCache.setLength(b, kernelCache.length(b) + 1);
                    next[b] = Sampler.argmax(expected, b * vocab, vocab);
                }
            }
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        double maxDiff = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        assertTrue(maxDiff < 1e-5, what + ": max |kernel - tensor path| = " + maxDiff);
        assertTrue(scale > 0.5, what + ": logit scale " + scale);
    }

    /** Rows past one read a packed copy of each weight: full fine-tuning changes the weights in place, and the copy must follow. */
    @Test
    void readsWeightsTrainedInPlace(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied();
        int n = 2;
        try (CausalLm model = TinyModels.write(dir, config, 5);
                KvCache tensorCache = new KvCache(model.manager(), config, n, 64, model.dataType());
                KvCache kernelCache = new KvCache(model.manager(), config, n, 64, model.dataType());
                CpuDecodeKernel kernel = new CpuDecodeKernel(model, true)) {
            int[] next = new int[n];
            for (int b = 0; b < n; b++) {
                int[] prompt = TinyModels.randomIds(3 + b, config.vocabSize(), b + 1);
                prefill(model, tensorCache, b, prompt);
                prefill(model, kernelCache, b, prompt);
                next[b] = prompt[prompt.length - 1];
            }
            for (int s = 0; s < 2; s++) {
                float[] expected = tensorStep(model, tensorCache, next, n);
                float[] actual = kernel.step(kernelCache, next, n);
                double maxDiff = 0;
                for (int i = 0; i < expected.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
                }
                assertTrue(maxDiff < 1e-5, "step " + s + ": max |kernel - tensor path| = " + maxDiff);
                for (int b = 0; b < n; b++) {
                    tensorCache.setLength(b, tensorCache.length(b) + 1);
                    kernelCache.setLength(b, kernelCache.length(b) + 1);
                }
                if (s == 0) { // an optimizer's step, in place, between two decode steps
                    // where vectors hold 16 floats, the batched step read (and made) the packed copy that must follow
                    assertEquals(PackedMatmul.pays(), kernel.prefills(), "weights packed by the batched step");
                    TrainableSet trained = TrainableSet.prepare(model,
                            TrainingConfig.builder().method(TrainingConfig.Method.FULL).build());
                    try (NoGradient ignored = NoGradient.enter()) {
                        trained.parameters().forEach(p -> p.value().muli(1.5f));
                    }
                    trained.freeze();
                }
            }
        }
    }

    @Test
    void leavesAdaptersToTheTensorPath(@TempDir Path dir) {
        ModelConfig config = TinyModels.llamaGqaUntied();
        try (CausalLm model = TinyModels.write(dir, config, 5);
                KvCache cache = new KvCache(model.manager(), config, CpuDecodeKernel.MAX_ROWS + 1, 64, model.dataType())) {
            assertTrue(CpuDecodeKernel.handles(model, cache));
            Linear qkv = model.projection("model.layers.0.self_attn.q_proj");
            qkv.attach("q_proj", LoraAdapter.create(model.manager(), (int) qkv.inFeatures(),
                    (int) qkv.outFeatures("q_proj"), 4, 8f, 0f, 1, model.dataType()));
            assertFalse(CpuDecodeKernel.handles(model, cache), "an unmerged adapter is not in the weights the kernel reads");
        }
    }

    /** A step of more rows than one pass takes goes in groups of MAX_ROWS: each row's logits as the tensor path's. */
    @Test
    void stepsMoreRowsThanOnePassInGroups(@TempDir Path dir) {
        ModelConfig config = TinyModels.qwen2Bias().toBuilder().maxPositionEmbeddings(128).build();
        int n = 2 * CpuDecodeKernel.MAX_ROWS + 3;
        try (CausalLm model = TinyModels.write(dir, config, 5);
                KvCache tensorCache = new KvCache(model.manager(), config, n, 64, model.dataType());
                KvCache kernelCache = new KvCache(model.manager(), config, n, 64, model.dataType());
                CpuDecodeKernel kernel = new CpuDecodeKernel(model)) {
            int vocab = config.vocabSize();
            int[] next = new int[n];
            for (int b = 0; b < n; b++) {
                int[] prompt = TinyModels.randomIds(2 + b % 7, vocab, b + 1); // rows of different lengths
                prefill(model, tensorCache, b, prompt);
                prefill(model, kernelCache, b, prompt);
                next[b] = prompt[prompt.length - 1];
            }
            double maxDiff = 0;
            for (int s = 0; s < 3; s++) {
                float[] expected = tensorStep(model, tensorCache, next, n);
                float[] actual = kernel.step(kernelCache, next, n);
                assertEquals(expected.length, actual.length);
                for (int i = 0; i < expected.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
                }
                for (int b = 0; b < n; b++) {
                    tensorCache.setLength(b, tensorCache.length(b) + 1);
                    kernelCache.setLength(b, kernelCache.length(b) + 1);
                    next[b] = Sampler.argmax(expected, b * vocab, vocab);
                }
            }
            assertTrue(maxDiff < 1e-5, "max |kernel - tensor path| over " + n + " rows = " + maxDiff);
        }
    }

    private static void prefill(CausalLm model, KvCache cache, int row, int[] prompt) {
        int t = prompt.length - 1; // the last prompt token is fed by the first decode step
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            int[] head = java.util.Arrays.copyOf(prompt, t);
            model.hidden(model.tokens(m, List.of(head), t, 0), Step.cached(m, model, cache, row, 1, t));
        }
        cache.setLength(row, t);
    }

    /** The whole prompt into cache row {@code row}; the last position's logits. */
    private static float[] tensorPrefill(CausalLm model, KvCache cache, int row, int[] prompt) {
        float[] logits;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            Step step = Step.cached(m, model, cache, row, 1, prompt.length);
            logits = model.logitsAt(model.hidden(model.tokens(m, List.of(prompt), prompt.length, 0), step), step,
                    new int[] {prompt.length - 1}).toFloatArray();
        }
        cache.setLength(row, prompt.length);
        return logits;
    }

    private static float[] tensorStep(CausalLm model, KvCache cache, int[] tokens, int n) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            List<int[]> last = new ArrayList<>();
            for (int b = 0; b < n; b++) {
                last.add(new int[] {tokens[b]});
            }
            Step step = Step.cached(m, model, cache, 0, n, 1);
            return model.logitsAt(model.hidden(model.tokens(m, last, 1, 0), step), step, new int[n]).toFloatArray();
        }
    }
}
