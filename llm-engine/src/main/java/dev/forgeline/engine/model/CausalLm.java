package dev.forgeline.engine.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.weights.SafetensorsReader;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama-family decoder-only language model: token embedding, N {@link DecoderLayer}s, a
 * final {@link RmsNorm} and the output projection (lm_head, or the embedding itself when
 * {@code tie_word_embeddings}). Weights load from a Hugging Face folder; q|k|v and gate|up are
 * stacked at load time (see {@link Linear}).
 */
public final class CausalLm implements AutoCloseable {

    private ModelConfig config; // tie_word_embeddings turns false when a tied head gets a merged adapter
    private final NDManager manager;
    private final DataType dtype;
    private final NDArray embedTokens; // (vocab, hidden); null when a packed tied head holds it (WeightLayout.PACKED)
    private final List<DecoderLayer> layers;
    private final RmsNorm norm;
    private final Linear lmHead; // (vocab, hidden), shares embedTokens when tied
    private final RotaryEmbedding rotary;
    private final Map<String, Linear> projections; // HF module name -> the Linear holding it
    private final boolean packedOnly; // the projections live in the CPU kernel's tiles alone

    private CausalLm(ModelConfig config, NDManager manager, DataType dtype, NDArray embedTokens,
            List<DecoderLayer> layers, RmsNorm norm, Linear lmHead, Map<String, Linear> projections, boolean packedOnly) {
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.embedTokens = embedTokens;
        this.layers = List.copyOf(layers);
        this.norm = norm;
        this.lmHead = lmHead;
        this.projections = projections;
        this.packedOnly = packedOnly;
        this.rotary = new RotaryEmbedding(config, manager, dtype);
    }

    /** Loads config.json and the safetensors weights of {@code dir} as {@link WeightLayout#TENSORS}. */
    public static CausalLm load(Path dir, Device device, DataType dtype) {
        return load(dir, device, dtype, WeightLayout.TENSORS);
    }

    /** Loads config.json and the safetensors weights of {@code dir}. */
    public static CausalLm load(Path dir, Device device, DataType dtype, WeightLayout layout) {
        ModelConfig config = ModelConfig.read(dir);
        try (SafetensorsReader reader = SafetensorsReader.open(dir)) {
            return load(config, reader, device, dtype, layout);
        }
    }

    public static CausalLm load(ModelConfig c, SafetensorsReader reader, Device device, DataType dtype) {
        return load(c, reader, device, dtype, WeightLayout.TENSORS);
    }

    public static CausalLm load(ModelConfig c, SafetensorsReader reader, Device device, DataType dtype,
            WeightLayout layout) {
        Map<String, long[]> expected = expectedShapes(c);
        check(expected, reader);
        boolean pack = layout == WeightLayout.PACKED && CpuDecodeKernel.holdsPacked(c, device, dtype);
        NDManager manager = NDManager.newBaseManager(device);
        try {
            Loader w = new Loader(reader, manager, dtype, pack);
            Map<String, Linear> projections = new LinkedHashMap<>();
            List<DecoderLayer> layers = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                String p = "model.layers." + i + ".";
                Linear qkv = w.fused(p + "self_attn.", List.of("q_proj", "k_proj", "v_proj"), c.qkvBias());
                Linear o = w.fused(p + "self_attn.", List.of("o_proj"), c.outputBias());
                Linear gateUp = w.fused(p + "mlp.", List.of("gate_proj", "up_proj"), c.mlpBias());
                Linear down = w.fused(p + "mlp.", List.of("down_proj"), c.mlpBias());
                for (String n : qkv.names()) projections.put(p + "self_attn." + n, qkv);
                projections.put(p + "self_attn.o_proj", o);
                for (String n : gateUp.names()) projections.put(p + "mlp." + n, gateUp);
                projections.put(p + "mlp.down_proj", down);
                Attention attention = new Attention(i, c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(), qkv, o, dtype);
                layers.add(new DecoderLayer(
                        new RmsNorm(w.read(p + "input_layernorm.weight"), c.rmsNormEps()),
                        attention,
                        new RmsNorm(w.read(p + "post_attention_layernorm.weight"), c.rmsNormEps()),
                        new Mlp(gateUp, down, c.intermediateSize())));
            }
            NDArray embed = w.read("model.embed_tokens.weight");
            Linear lmHead = c.tieWordEmbeddings()
                    ? Linear.sharing("lm_head", embed)
                    : new Linear("lm_head", w.read("lm_head.weight"), null);
            if (pack) {
                lmHead.packAndRelease();
                if (c.tieWordEmbeddings()) { // the head's tiles serve the lookups
                    embed.close();
                    embed = null;
                }
            }
            projections.put("lm_head", lmHead);
            RmsNorm norm = new RmsNorm(w.read("model.norm.weight"), c.rmsNormEps());
            return new CausalLm(c, manager, dtype, embed, layers, norm, lmHead, projections, pack);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Every tensor a checkpoint of this config must hold, with its shape (nn.Linear: (out, in)). */
    public static Map<String, long[]> expectedShapes(ModelConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long inter = c.intermediateSize();
        s.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            s.put(p + "self_attn.q_proj.weight", new long[] {q, h});
            s.put(p + "self_attn.k_proj.weight", new long[] {kv, h});
            s.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
            s.put(p + "self_attn.o_proj.weight", new long[] {h, q});
            if (c.qkvBias()) {
                s.put(p + "self_attn.q_proj.bias", new long[] {q});
                s.put(p + "self_attn.k_proj.bias", new long[] {kv});
                s.put(p + "self_attn.v_proj.bias", new long[] {kv});
            }
            if (c.outputBias()) {
                s.put(p + "self_attn.o_proj.bias", new long[] {h});
            }
            s.put(p + "mlp.gate_proj.weight", new long[] {inter, h});
            s.put(p + "mlp.up_proj.weight", new long[] {inter, h});
            s.put(p + "mlp.down_proj.weight", new long[] {h, inter});
            if (c.mlpBias()) {
                s.put(p + "mlp.gate_proj.bias", new long[] {inter});
                s.put(p + "mlp.up_proj.bias", new long[] {inter});
                s.put(p + "mlp.down_proj.bias", new long[] {h});
            }
            s.put(p + "input_layernorm.weight", new long[] {h});
            s.put(p + "post_attention_layernorm.weight", new long[] {h});
        }
        s.put("model.norm.weight", new long[] {h});
        if (!c.tieWordEmbeddings()) {
            s.put("lm_head.weight", new long[] {c.vocabSize(), h});
        }
        return s;
    }

    /** Fails before reading any data: names every missing tensor, or the first mis-shaped one. */
    private static void check(Map<String, long[]> expected, SafetensorsReader reader) {
        List<String> missing = expected.keySet().stream().filter(n -> !reader.contains(n)).toList();
        if (!missing.isEmpty()) {
            String shown = String.join(", ", missing.subList(0, Math.min(missing.size(), 20)));
            throw new ModelFormatException("missing tensor" + (missing.size() > 1 ? "s" : "") + " (" + missing.size()
                    + "): " + shown + (missing.size() > 20 ? ", ..." : ""));
        }
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            long[] actual = reader.entry(e.getKey()).shape();
            if (!Arrays.equals(actual, e.getValue())) {
                throw new ModelFormatException("tensor '" + e.getKey() + "' has shape " + Arrays.toString(actual)
                        + " but the config needs " + Arrays.toString(e.getValue()));
            }
        }
    }

    /**
     * Reads checkpoint tensors into the model's manager and stacks projections; {@code pack}: each
     * projection goes into the kernel's tiles as it loads, so libtorch holds one layer's at a time.
     */
    private record Loader(SafetensorsReader reader, NDManager manager, DataType dtype, boolean pack) {
        NDArray read(String name) {
            return reader.read(name, manager, dtype);
        }

        Linear fused(String prefix, List<String> names, boolean bias) {
            List<NDArray> weights = new ArrayList<>();
            List<NDArray> biases = new ArrayList<>();
            for (String n : names) {
                weights.add(read(prefix + n + ".weight"));
                if (bias) {
                    biases.add(read(prefix + n + ".bias"));
                }
            }
            Linear linear = Linear.fused(names, weights, biases);
            if (names.size() > 1) {
                weights.forEach(NDArray::close); // concat made a stacked copy
                biases.forEach(NDArray::close);
            }
            if (pack) {
                linear.packAndRelease();
            }
            return linear;
        }
    }

    /** Token ids, right-padded with {@code pad} to {@code seqLen}: (B, T) int64 on the model's device. */
    public NDArray tokens(NDManager m, List<int[]> rows, int seqLen, int pad) {
        long[] ids = new long[rows.size() * seqLen];
        Arrays.fill(ids, pad);
        for (int b = 0; b < rows.size(); b++) {
            int[] r = rows.get(b);
            for (int t = 0; t < r.length; t++) {
                ids[b * seqLen + t] = r[t];
            }
        }
        return m.create(LongBuffer.wrap(ids), new Shape(rows.size(), seqLen));
    }

    /** Final-norm hidden states: ids (B, T) int64 -> (B, T, hidden). */
    public NDArray hidden(NDArray inputIds, Step step) {
        if (packedOnly) {
            throw new IllegalStateException("this model was loaded with WeightLayout.PACKED: only CpuDecodeKernel runs it");
        }
        NDArray x = embed(inputIds);
        for (DecoderLayer layer : layers) {
            x = layer.forward(x, step);
        }
        return norm.forward(x);
    }

    /** Token embeddings: ids (B, T) int64 -> (B, T, hidden). */
    public NDArray embed(NDArray inputIds) {
        return inputIds.getNDArrayInternal().embedding(inputIds, embedTokens, SparseFormat.DENSE).singletonOrThrow();
    }

    /** hidden (..., hidden) -> logits (..., vocab). */
    public NDArray logits(NDArray hidden) {
        return lmHead.forward(hidden);
    }

    /** Logits at every position: ids (B, T) -> (B, T, vocab). */
    public NDArray forward(NDArray inputIds, Step step) {
        return logits(hidden(inputIds, step));
    }

    /**
     * Logits at one position per row, {@code index[b]} in [0, T): (B, vocab). Only those rows go
     * through lm_head, the largest matrix of a small model.
     */
    public NDArray logitsAt(NDArray hidden, Step step, int[] index) {
        long b = step.batch();
        if (step.seqLen() == 1) {
            return logits(hidden.reshape(new Shape(b, config.hiddenSize())));
        }
        long[] flat = new long[index.length];
        for (int i = 0; i < index.length; i++) {
            flat[i] = (long) i * step.seqLen() + index[i];
        }
        NDManager m = hidden.getManager();
        NDArray rows = hidden.reshape(new Shape(b * step.seqLen(), config.hiddenSize()))
                .get(new NDIndex("{}", m.create(LongBuffer.wrap(flat), new Shape(flat.length)))); // (B, hidden)
        return logits(rows);
    }

    /** The projection (possibly stacked with others) that holds HF module {@code name}. */
    public Linear projection(String name) {
        Linear l = projections.get(name);
        if (l == null) {
            throw new IllegalArgumentException("no projection '" + name + "'");
        }
        return l;
    }

    /** Forgets the weight copies the CPU decode kernel packed (see {@link Linear#dropPacked}): before training in place. */
    public void dropPackedWeights() {
        projections.values().forEach(Linear::dropPacked);
    }

    /** Whether any projection carries an adapter that is not merged into its weight. */
    public boolean hasAdapters() {
        for (Linear l : projections.values()) {
            if (!l.adapters().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs {@code body} with every LoRA adapter switched off, so the model computes its base
     * weights alone (the frozen reference of DPO, without a second copy of the weights), and
     * switches them back on afterwards, also when {@code body} throws. Single-threaded, like training.
     */
    public <T> T withoutAdapters(java.util.function.Supplier<T> body) {
        java.util.Set<Linear> all = new java.util.LinkedHashSet<>(projections.values());
        all.add(lmHead);
        all.forEach(l -> l.setAdaptersEnabled(false));
        try {
            return body.get();
        } finally {
            all.forEach(l -> l.setAdaptersEnabled(true));
        }
    }

    /** HF module names of every projection LoRA may target, e.g. model.layers.0.self_attn.q_proj. */
    public List<String> projectionNames() {
        return List.copyOf(projections.keySet());
    }

    /** Attaches a LoRA adapter to one projection, named as in Hugging Face (peft target). */
    public void attachLora(String name, LoraAdapter adapter) {
        projection(name).attach(name.substring(name.lastIndexOf('.') + 1), adapter);
    }

    /**
     * Folds every attached adapter into the weights (for export as a plain checkpoint). A tied
     * lm_head with an adapter unties: it gets its own merged weight, embed_tokens keeps its
     * values, and {@link #config()} says {@code tie_word_embeddings: false} from then on.
     */
    public void mergeLora() {
        new java.util.LinkedHashSet<>(projections.values()).forEach(Linear::mergeAdapters);
        if (config.tieWordEmbeddings() && !lmHead.sharesWeight()) {
            config = config.toBuilder().tieWordEmbeddings(false).build();
        }
    }

    /**
     * The weights under their Hugging Face names (stacked projections sliced back apart), as a
     * checkpoint writer needs them. Slices are views into the model's arrays, attached to
     * {@code views} so the caller frees them.
     */
    public Map<String, NDArray> stateDict(NDManager views) {
        if (packedOnly) {
            throw new IllegalStateException("this model was loaded with WeightLayout.PACKED: its tensors were freed");
        }
        Map<String, NDArray> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", embedTokens);
        for (int i = 0; i < layers.size(); i++) {
            String p = "model.layers." + i + ".";
            DecoderLayer layer = layers.get(i);
            for (Linear l : List.of(layer.attention().qkv(), layer.attention().output())) {
                putLinear(s, p + "self_attn.", l, views);
            }
            for (Linear l : List.of(layer.mlp().gateUp(), layer.mlp().down())) {
                putLinear(s, p + "mlp.", l, views);
            }
            s.put(p + "input_layernorm.weight", layer.inputNorm().weight());
            s.put(p + "post_attention_layernorm.weight", layer.postAttentionNorm().weight());
        }
        s.put("model.norm.weight", norm.weight());
        if (!config.tieWordEmbeddings()) {
            s.put("lm_head.weight", lmHead.weight());
        }
        return s;
    }

    /** Whether lm_head still reads the token embedding (false once a head adapter was merged). */
    public boolean tied() {
        return lmHead.sharesWeight();
    }

    private static void putLinear(Map<String, NDArray> s, String prefix, Linear l, NDManager views) {
        for (String n : l.names()) {
            s.put(prefix + n + ".weight", l.names().size() == 1 ? l.weight() : l.weight(n, views));
            if (l.bias() != null) {
                s.put(prefix + n + ".bias", l.names().size() == 1 ? l.bias() : l.bias(n, views));
            }
        }
    }

    public ModelConfig config() {
        return config;
    }

    public DataType dataType() {
        return dtype;
    }

    public Device device() {
        return manager.getDevice();
    }

    public NDManager manager() {
        return manager;
    }

    public List<DecoderLayer> layers() {
        return Collections.unmodifiableList(layers);
    }

    public RmsNorm norm() {
        return norm;
    }

    public Linear lmHead() {
        return lmHead;
    }

    /** The token embedding (vocab, hidden), or null when a packed tied head holds it ({@link #packedOnly}). */
    public NDArray embedTokens() {
        return embedTokens;
    }

    /** Whether the projections live in {@link CpuDecodeKernel}'s tiles alone ({@link WeightLayout#PACKED}). */
    public boolean packedOnly() {
        return packedOnly;
    }

    /** The model's rotary tables (shared by every step; its arrays live in the model's manager). */
    public RotaryEmbedding rotary() {
        return rotary;
    }

    /**
     * Bytes of weights one decode step reads: every matrix once. The embedding lookup touches
     * one row only, so an untied input embedding does not count; a tied one counts as lm_head.
     */
    public static long weightBytesPerToken(ModelConfig c, DataType dtype) {
        long n = 0;
        for (Map.Entry<String, long[]> e : expectedShapes(c).entrySet()) {
            if (!c.tieWordEmbeddings() && e.getKey().equals("model.embed_tokens.weight")) {
                continue;
            }
            n += Arrays.stream(e.getValue()).reduce(1, (x, y) -> x * y);
        }
        return n * dtype.getNumOfBytes();
    }

    @Override
    public void close() {
        manager.close();
    }
}
