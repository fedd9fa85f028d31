package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.Sampler;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.generate.TokenLogprobs;
import dev.forgeline.engine.model.Float64Llama.Perturbation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CPU decode kernel against {@link Float64Llama}, an independent float64 implementation of the
 * Hugging Face definitions, for each family the engine loads: Llama with GQA and an untied head,
 * MQA with a tied head, Qwen2's q/k/v biases, Llama 3 and linear rope scaling, an explicit
 * head_dim, Llama's attention and MLP biases, Mistral. The checkpoints are written by the reference
 * (config.json as transformers writes it, safetensors by hand), not by the engine, so config
 * parsing and loading are checked too; every logit of every checked position must agree to
 * {@link #TOLERANCE}.
 *
 * <p>Each variant runs a 70-token prompt (the kernel's prefill chunk of 64 and 6 more) and a
 * 23-token one in two cache rows, six batched decode steps, then three of row 0 alone; through the
 * Vector API on two threads (packed weights, as {@link BatchDecoder} runs it), through the Vector
 * API on unpacked weights (row 0 token by token before anything is packed), without the Vector API
 * (products in libtorch, scalar Java), and through {@link BatchDecoder}'s public API (all
 * logprobs of every sampled token). For each variant the kernel must also be far from the reference
 * made wrong in the feature the variant is about, so that the comparison is shown able to fail.
 */
class KernelReferenceTest {

    /**
     * float32 kernel against float64 reference, on logits of order one (up to about 4 here): the
     * differences seen are below 5e-6, so this leaves room for another summation order and no more.
     */
    static final double TOLERANCE = 2e-5;
    /** The kernel's distance to a deliberately wrong reference must be at least this. */
    static final double PERTURBED_AT_LEAST = 100 * TOLERANCE;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] PROMPT_LENGTHS = {70, 23};
    private static final int BATCHED_STEPS = 6;
    private static final int SINGLE_STEPS = 3;
    private static final int CACHE_LENGTH = 128;

    /** Whether this JVM runs with --add-modules jdk.incubator.vector (the build passes it). */
    private static final boolean VECTOR_MODULE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    record Variant(String name, ObjectNode config, long seed, List<Perturbation> perturbations) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** The fields every config.json here has, as transformers writes them. */
    private static ObjectNode base(String modelType) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add(switch (modelType) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            default -> "LlamaForCausalLM";
        });
        n.put("model_type", modelType);
        n.put("hidden_size", 64);
        n.put("intermediate_size", 96);
        n.put("num_attention_heads", 4);
        n.put("num_hidden_layers", 2);
        n.put("vocab_size", 211);
        n.put("rms_norm_eps", 1e-5);
        n.put("rope_theta", 10000.0);
        n.put("max_position_embeddings", 256);
        n.put("hidden_act", "silu");
        n.put("tie_word_embeddings", false);
        n.put("torch_dtype", "float32");
        return n;
    }

    static Stream<Variant> variants() {
        ObjectNode gqa = base("llama").put("num_key_value_heads", 2);

        ObjectNode mqa = base("llama").put("num_key_value_heads", 1).put("tie_word_embeddings", true);

        // As Qwen2.5's config.json: no attention_bias field (q/k/v are biased anyway), a sliding
        // window that use_sliding_window turns off, rope_theta 1e6, tied embeddings.
        ObjectNode qwen2 = base("qwen2").put("hidden_size", 48).put("num_attention_heads", 6)
                .put("num_key_value_heads", 2).put("rope_theta", 1_000_000.0).put("rms_norm_eps", 1e-6)
                .put("tie_word_embeddings", true).put("use_sliding_window", false).put("sliding_window", 4096)
                .put("max_window_layers", 2);

        // original_max_position_embeddings 32 with head_dim 16 and theta 1e4: one frequency in the
        // band kept, one smoothed, six divided by the factor; positions run to 78.
        ObjectNode llama3 = base("llama").put("num_key_value_heads", 2);
        llama3.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 32);

        // The older key, "type", as files in the wild still carry it.
        ObjectNode linear = base("llama").put("num_key_value_heads", 2);
        linear.putObject("rope_scaling").put("type", "linear").put("factor", 4.0);

        ObjectNode headDim = base("llama").put("num_key_value_heads", 2).put("head_dim", 24);

        ObjectNode llamaBiases = base("llama").put("num_key_value_heads", 4).put("attention_bias", true)
                .put("mlp_bias", true);

        // As Mistral 7B v0.3's config.json: sliding_window null. rms_norm_eps large enough to matter.
        ObjectNode mistral = base("mistral").put("num_attention_heads", 8).put("num_key_value_heads", 2)
                .put("rms_norm_eps", 0.05).putNull("sliding_window");

        return Stream.of(
                new Variant("llama-gqa-untied", gqa, 11, List.of(Perturbation.KV_HEADS_TILED, Perturbation.TIED_HEAD)),
                new Variant("llama-mqa-tied", mqa, 12, List.of(Perturbation.ROPE_INTERLEAVED)),
                new Variant("qwen2-qkv-bias", qwen2, 13, List.of(Perturbation.NO_BIASES)),
                new Variant("llama3-rope-scaling", llama3, 14, List.of(Perturbation.NO_ROPE_SCALING)),
                new Variant("linear-rope-scaling", linear, 15, List.of(Perturbation.NO_ROPE_SCALING)),
                new Variant("explicit-head-dim", headDim, 16, List.of(Perturbation.SCALE_FROM_HIDDEN)),
                new Variant("llama-attention-mlp-bias", llamaBiases, 17, List.of(Perturbation.NO_BIASES)),
                new Variant("mistral-eps", mistral, 18, List.of(Perturbation.DEFAULT_EPS)));
    }

    /** Tokens fed to each cache row from position 0, and the kernel's logits at some of those positions. */
    private static final class Trace {
        final List<List<Integer>> tokens = new ArrayList<>();
        final List<Map<Integer, float[]>> logits = new ArrayList<>();

        Trace(int rows) {
            for (int r = 0; r < rows; r++) {
                tokens.add(new ArrayList<>());
                logits.add(new TreeMap<>());
            }
        }

        void fed(int row, int... ids) {
            for (int id : ids) {
                tokens.get(row).add(id);
            }
        }

        /** Logits after the row's last fed token. */
        void logits(int row, float[] values, int from, int vocab) {
            logits.get(row).put(tokens.get(row).size() - 1, Arrays.copyOfRange(values, from, from + vocab));
        }

        int positions() {
            return logits.stream().mapToInt(Map::size).sum();
        }
    }

    /** Max |kernel - reference| over every logit of every traced position, and the largest |logit|. */
    private static double[] compare(Float64Llama reference, Trace trace) {
        double maxDiff = 0;
        double scale = 0;
        for (int r = 0; r < trace.tokens.size(); r++) {
            int[] ids = trace.tokens.get(r).stream().mapToInt(Integer::intValue).toArray();
            double[][] expected = reference.logits(ids);
            for (Map.Entry<Integer, float[]> e : trace.logits.get(r).entrySet()) {
                double[] want = expected[e.getKey()];
                float[] got = e.getValue();
                assertEquals(want.length, got.length);
                for (int i = 0; i < want.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
                    scale = Math.max(scale, Math.abs(want[i]));
                }
            }
        }
        return new double[] {maxDiff, scale};
    }

    private static void assertMatches(Variant v, String path, Float64Llama reference, Trace trace) {
        double[] d = compare(reference, trace);
        System.out.printf("KernelReferenceTest %-26s %-46s max |kernel - float64| = %.2e over %d positions (logits up to %.2f)%n",
                v.name(), path, d[0], trace.positions(), d[1]);
        assertTrue(d[0] < TOLERANCE, v.name() + ", " + path + ": max |kernel - float64 reference| = " + d[0]);
        assertTrue(d[1] > 0.5, v.name() + ": logits up to " + d[1] + " are too small for a " + TOLERANCE + " comparison");
    }

    /** Writes the variant's checkpoint with the reference's weights, and the reference. */
    private static Float64Llama write(Variant v, Path dir) {
        Map<String, float[]> weights = Float64Llama.randomWeights(v.config(), v.seed());
        Float64Llama.write(dir, v.config(), weights);
        return new Float64Llama(v.config(), weights, Perturbation.NONE);
    }

    private static CausalLm load(Path dir) {
        return CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
    }

    private static int[] prompt(int length, int vocab, long seed) {
        return TinyModels.randomIds(length, vocab, seed);
    }

    /**
     * Both prompts prefilled through {@link CpuDecodeKernel#prefill} (row 0 token by token through
     * {@link CpuDecodeKernel#step} when {@code rowZeroByStep}), then the batched and single-row steps,
     * each feeding the argmax of the kernel's logits.
     */
    private static Trace run(CpuDecodeKernel kernel, CausalLm model, boolean rowZeroByStep, long seed) {
        int vocab = model.config().vocabSize();
        Trace trace = new Trace(2);
        try (KvCache cache = new KvCache(model.manager(), model.config(), 2, CACHE_LENGTH, model.dataType())) {
            assertTrue(CpuDecodeKernel.handles(model, cache), "the kernel takes this model");
            int[] next = new int[2];
            for (int r = 0; r < 2; r++) {
                int[] ids = prompt(PROMPT_LENGTHS[r], vocab, seed + r);
                if (r == 0 && rowZeroByStep) {
                    for (int id : ids) {
                        float[] logits = kernel.step(cache, new int[] {id}, 1);
                        cache.setLength(0, cache.length(0) + 1);
                        trace.fed(0, id);
                        trace.logits(0, logits, 0, vocab); // every position of the prompt
                    }
                } else {
                    float[] logits = kernel.prefill(cache, r, ids);
                    cache.setLength(r, ids.length);
                    trace.fed(r, ids);
                    trace.logits(r, logits, 0, vocab);
                }
                next[r] = Sampler.argmax(trace.logits.get(r).get(ids.length - 1), vocab);
            }
            for (int s = 0; s < BATCHED_STEPS + SINGLE_STEPS; s++) {
                int rows = s < BATCHED_STEPS ? 2 : 1;
                float[] logits = kernel.step(cache, next, rows);
                for (int r = 0; r < rows; r++) {
                    cache.setLength(r, cache.length(r) + 1);
                    trace.fed(r, next[r]);
                    trace.logits(r, logits, r * vocab, vocab);
                    next[r] = Sampler.argmax(logits, r * vocab, vocab);
                }
            }
        }
        return trace;
    }

    /** Vector API, two threads, packed weights: the path BatchDecoder takes on a server. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void vectorKernelMatchesFloat64Reference(Variant v, @TempDir Path dir) {
        if (!VECTOR_MODULE) {
            System.err.println("KernelReferenceTest: NOT CHECKED on the Vector API (" + v.name()
                    + "): this JVM lacks --add-modules jdk.incubator.vector; the build passes it");
        }
        assumeTrue(VECTOR_MODULE, "the Vector API kernel needs --add-modules jdk.incubator.vector (the build passes it)");
        boolean packs = PackedMatmul.pays();
        if (!packs) {
            System.err.println("KernelReferenceTest: this CPU's vectors are not 16 floats: weights are not packed, "
                    + "products run on SimdMatmul only (" + v.name() + ")");
        }
        Float64Llama reference = write(v, dir);
        if (v.config().has("rope_scaling") && v.config().get("rope_scaling").has("low_freq_factor")) {
            int[] bands = reference.llama3Bands();
            assertTrue(bands[0] > 0 && bands[1] > 0 && bands[2] > 0,
                    "frequencies kept, smoothed and divided: " + Arrays.toString(bands));
        }
        Engine.getInstance(); // libtorch before the thread calls
        int before = JniUtils.getNumThreads();
        try (CausalLm model = load(dir)) {
            // Unpacked first: row 0 token by token, one row at a time, reads the weights in place (SimdMatmul).
            JniUtils.setNumThreads(1);
            try (CpuDecodeKernel kernel = new CpuDecodeKernel(model, true)) {
                assertFalse(kernel.prefills(), "nothing is packed yet");
                assertMatches(v, "Vector API, row 0 token by token, unpacked", reference, run(kernel, model, true, v.seed()));
            }
            JniUtils.setNumThreads(2);
            try (CpuDecodeKernel kernel = new CpuDecodeKernel(model, true)) {
                kernel.packWeights();
                assertEquals(packs, kernel.prefills(), "every layer weight packed where vectors hold 16 floats");
                Trace trace = run(kernel, model, false, v.seed() + 100);
                assertMatches(v, "Vector API, packed, 2 threads", reference, trace);
                for (Perturbation p : v.perturbations()) {
                    double d = compare(reference.perturbed(p), trace)[0];
                    System.out.printf("KernelReferenceTest %-26s reference perturbed by %-18s max |kernel - float64| = %.2e%n",
                            v.name(), p, d);
                    assertTrue(d > PERTURBED_AT_LEAST, v.name() + ": the kernel is within " + d
                            + " of a reference with " + p + ": the comparison would not catch that mistake");
                }
            }
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    /** Without the Vector API: products in libtorch, attention, norms and SwiGLU in scalar Java. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void scalarKernelMatchesFloat64Reference(Variant v, @TempDir Path dir) {
        Float64Llama reference = write(v, dir);
        Engine.getInstance();
        int before = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        try (CausalLm model = load(dir); CpuDecodeKernel kernel = new CpuDecodeKernel(model, false)) {
            assertMatches(v, "no Vector API (libtorch products, scalar Java)", reference, run(kernel, model, false, v.seed() + 200));
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    /**
     * Through the public API: BatchDecoder's prefill and steps, greedy, with the log-probabilities of
     * the whole vocabulary for every sampled token. Row 0 stops after 4 tokens, so row 1 moves into
     * its cache row and decodes alone.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void batchDecoderMatchesFloat64Reference(Variant v, @TempDir Path dir) {
        Float64Llama reference = write(v, dir);
        int vocab = reference.vocab;
        boolean kernelPrefills = VECTOR_MODULE && PackedMatmul.pays();
        if (!kernelPrefills) {
            System.err.println("KernelReferenceTest: BatchDecoder prefills through the tensor path here (no 16-float "
                    + "Vector API); its decode steps still run on the kernel (" + v.name() + ")");
        }
        int[][] prompts = {prompt(PROMPT_LENGTHS[0], vocab, v.seed() + 300), prompt(PROMPT_LENGTHS[1], vocab, v.seed() + 301)};
        int[] maxTokens = {4, 9};
        List<List<TokenLogprobs>> streamed = List.of(new ArrayList<>(), new ArrayList<>());
        try (CausalLm model = load(dir); BatchDecoder decoder = new BatchDecoder(model, 2, CACHE_LENGTH)) {
            try (KvCache probe = new KvCache(model.manager(), model.config(), 2, CACHE_LENGTH, model.dataType())) {
                assertTrue(CpuDecodeKernel.handles(model, probe), "BatchDecoder hands this model's steps to the kernel");
            }
            for (int r = 0; r < 2; r++) {
                List<TokenLogprobs> out = streamed.get(r);
                SamplingParams params = SamplingParams.builder().maxTokens(maxTokens[r]).logprobs(vocab).build();
                decoder.add(prompts[r], params, null, (token, text, logprobs) -> out.add(logprobs));
            }
            while (decoder.active() > 0) {
                decoder.step();
            }
        }
        double maxDiff = 0;
        int positions = 0;
        for (int r = 0; r < 2; r++) {
            List<TokenLogprobs> out = streamed.get(r);
            assertEquals(maxTokens[r], out.size());
            int[] ids = Arrays.copyOf(prompts[r], prompts[r].length + out.size() - 1);
            for (int i = 0; i + 1 < out.size(); i++) {
                ids[prompts[r].length + i] = out.get(i).token();
            }
            double[][] logits = reference.logits(ids);
            for (int i = 0; i < out.size(); i++) {
                double[] want = logSoftmax(logits[prompts[r].length - 1 + i]);
                TokenLogprobs got = out.get(i);
                assertEquals(vocab, got.topIds().length);
                for (int j = 0; j < vocab; j++) {
                    maxDiff = Math.max(maxDiff, Math.abs(want[got.topIds()[j]] - got.topLogprobs()[j]));
                }
                int best = argmax(want);
                double margin = want[best] - secondLargest(want);
                if (margin > 10 * TOLERANCE) { // greedy picks the reference's argmax unless it is a near tie
                    assertEquals(best, got.token(), v.name() + ": row " + r + ", token " + i);
                }
                positions++;
            }
        }
        System.out.printf("KernelReferenceTest %-26s %-46s max |logprob - float64| = %.2e over %d positions%n",
                v.name(), "BatchDecoder" + (kernelPrefills ? " (kernel prefill and steps)" : " (kernel steps)"),
                maxDiff, positions);
        assertTrue(maxDiff < TOLERANCE, v.name() + ", BatchDecoder: max |logprob - float64 reference| = " + maxDiff);
    }

    /** rope_scaling types transformers has and the engine does not: a clear error at load, not other logits. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dynamic", "yarn", "longrope"})
    void refusesRopeScalingItDoesNotImplement(String type, @TempDir Path dir) {
        ObjectNode config = base("llama").put("num_key_value_heads", 2);
        config.putObject("rope_scaling").put("rope_type", type).put("factor", 4.0)
                .put("original_max_position_embeddings", 64);
        ObjectNode plain = base("llama").put("num_key_value_heads", 2);
        Float64Llama.write(dir, plain, Float64Llama.randomWeights(plain, 1));
        try {
            Files.writeString(dir.resolve("config.json"), config.toString()); // the reference has no such rope either
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> load(dir).close());
        assertTrue(e.getMessage().contains("rope_scaling type '" + type + "' is not supported"), e.getMessage());
    }

    private static double[] logSoftmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : x) {
            sum += Math.exp(v - max);
        }
        double logZ = max + Math.log(sum);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] - logZ;
        }
        return out;
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private static double secondLargest(double[] v) {
        int best = argmax(v);
        double second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v.length; i++) {
            if (i != best) {
                second = Math.max(second, v[i]);
            }
        }
        return second;
    }
}
