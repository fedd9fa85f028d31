package dev.forgeline.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM of Hugging Face transformers, written
 * again in plain float64 Java from their definitions and sharing no code with the engine: the test's
 * independent reference for {@link CpuDecodeKernel}. It reads config.json's fields itself, with
 * transformers' defaults, writes the checkpoint itself (safetensors by hand), and recomputes every
 * position of a sequence from scratch (no cache), so a mistake in the engine's config parsing, weight
 * loading, rotary tables or cache shows up as a difference.
 *
 * <p>{@link Perturbation}s are deliberate mistakes, one per feature a test variant is about; a test
 * shows that the kernel is far from the perturbed reference, so the comparison can fail for that
 * feature.
 */
final class Float64Llama {

    /** A deliberate mistake in the reference, to show the comparison notices it. */
    enum Perturbation {
        NONE,
        /** repeat_kv as tile (query head h reads kv head h % kv) instead of repeat_interleave (h / groups). */
        KV_HEADS_TILED,
        /** Meta's interleaved rotation (pairs 2i, 2i+1) instead of transformers' rotate_half (i, i + hd/2). */
        ROPE_INTERLEAVED,
        /** rope_scaling ignored: the plain frequencies theta^(-2i/d). */
        NO_ROPE_SCALING,
        /** No biases on any projection. */
        NO_BIASES,
        /** Scores scaled by (hidden / heads)^-0.5 instead of head_dim^-0.5. */
        SCALE_FROM_HIDDEN,
        /** lm_head taken as the embedding although the checkpoint has its own. */
        TIED_HEAD,
        /** rms_norm_eps taken as 1e-6. */
        DEFAULT_EPS,
        /** Causal mask only, no sliding window. */
        NO_SLIDING_WINDOW
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    final JsonNode config;
    final String modelType;
    final int hidden;
    final int intermediate;
    final int heads;
    final int kvHeads;
    final int headDim;
    final int layers;
    final int vocab;
    final double eps;
    final boolean tied;
    final boolean qkvBias;
    final boolean oBias;
    final boolean mlpBias;
    final Integer slidingWindow; // null: full causal attention
    private final double[] inverseFrequencies; // (headDim / 2)
    private final Map<String, float[]> weights;
    private final Perturbation perturbation;

    /** The architecture config.json describes, with transformers' defaults for absent fields. */
    Float64Llama(JsonNode config, Map<String, float[]> weights, Perturbation perturbation) {
        this.config = config;
        this.weights = weights;
        this.perturbation = perturbation;
        this.modelType = config.get("model_type").asText();
        this.hidden = config.get("hidden_size").asInt();
        this.intermediate = config.get("intermediate_size").asInt();
        this.heads = config.get("num_attention_heads").asInt();
        // LlamaConfig: num_key_value_heads None means multi-head attention.
        this.kvHeads = config.hasNonNull("num_key_value_heads") ? config.get("num_key_value_heads").asInt() : heads;
        // LlamaAttention: getattr(config, "head_dim", hidden_size // num_attention_heads).
        this.headDim = config.hasNonNull("head_dim") ? config.get("head_dim").asInt() : hidden / heads;
        this.layers = config.get("num_hidden_layers").asInt();
        this.vocab = config.get("vocab_size").asInt();
        double e = config.path("rms_norm_eps").asDouble(1e-6);
        this.eps = perturbation == Perturbation.DEFAULT_EPS ? 1e-6 : e;
        this.tied = perturbation == Perturbation.TIED_HEAD || config.path("tie_word_embeddings").asBoolean(false);
        boolean noBias = perturbation == Perturbation.NO_BIASES;
        switch (modelType) {
            case "qwen2" -> { // Qwen2Attention: q/k/v always biased, o_proj never; Qwen2MLP has no bias
                qkvBias = !noBias;
                oBias = false;
                mlpBias = false;
            }
            case "mistral" -> { // MistralAttention and MistralMLP: no biases
                qkvBias = false;
                oBias = false;
                mlpBias = false;
            }
            default -> { // LlamaAttention: attention_bias on q, k, v and o; LlamaMLP: mlp_bias
                qkvBias = !noBias && config.path("attention_bias").asBoolean(false);
                oBias = qkvBias;
                mlpBias = !noBias && config.path("mlp_bias").asBoolean(false);
            }
        }
        // MistralConfig defaults sliding_window to 4096; Llama and (with use_sliding_window false) Qwen2 have none.
        Integer window = null;
        if ("mistral".equals(modelType)) {
            if (!config.has("sliding_window")) {
                window = 4096;
            } else if (!config.get("sliding_window").isNull()) {
                window = config.get("sliding_window").asInt();
            }
        }
        this.slidingWindow = perturbation == Perturbation.NO_SLIDING_WINDOW ? null : window;
        this.inverseFrequencies = inverseFrequencies();
    }

    Float64Llama perturbed(Perturbation p) {
        return new Float64Llama(config, weights, p);
    }

    /**
     * modeling_rope_utils: _compute_default_rope_parameters, then per rope_type
     * _compute_linear_scaling_rope_parameters or _compute_llama3_parameters.
     */
    private double[] inverseFrequencies() {
        double base = config.path("rope_theta").asDouble(10000.0);
        double[] inv = new double[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(base, (2.0 * i) / headDim);
        }
        JsonNode scaling = config.get("rope_scaling");
        if (scaling == null || scaling.isNull() || perturbation == Perturbation.NO_ROPE_SCALING) {
            return inv;
        }
        // transformers: rope_scaling.get("rope_type", rope_scaling.get("type"))
        String type = scaling.hasNonNull("rope_type") ? scaling.get("rope_type").asText() : scaling.path("type").asText();
        double factor = scaling.path("factor").asDouble();
        switch (type) {
            case "default" -> { }
            case "linear" -> {
                for (int i = 0; i < inv.length; i++) {
                    inv[i] /= factor;
                }
            }
            case "llama3" -> {
                double low = scaling.get("low_freq_factor").asDouble();
                double high = scaling.get("high_freq_factor").asDouble();
                double oldContext = scaling.get("original_max_position_embeddings").asDouble();
                double lowFreqWavelen = oldContext / low;
                double highFreqWavelen = oldContext / high;
                for (int i = 0; i < inv.length; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double llama = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
                    double smooth = (oldContext / wavelen - low) / (high - low);
                    double smoothed = (1 - smooth) * llama / factor + smooth * llama;
                    boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                    inv[i] = medium ? smoothed : llama;
                }
            }
            default -> throw new IllegalArgumentException("the reference has no rope_type " + type);
        }
        return inv;
    }

    /** Which of the llama3 bands (high kept, medium smoothed, low divided) the frequencies fall in: counts per band. */
    int[] llama3Bands() {
        JsonNode s = config.get("rope_scaling");
        double oldContext = s.get("original_max_position_embeddings").asDouble();
        double base = config.path("rope_theta").asDouble(10000.0);
        int[] bands = new int[3];
        for (int i = 0; i < headDim / 2; i++) {
            double wavelen = 2 * Math.PI * Math.pow(base, (2.0 * i) / headDim);
            if (wavelen < oldContext / s.get("high_freq_factor").asDouble()) {
                bands[0]++;
            } else if (wavelen > oldContext / s.get("low_freq_factor").asDouble()) {
                bands[2]++;
            } else {
                bands[1]++;
            }
        }
        return bands;
    }

    /** Logits at every position of {@code tokens} (from position 0), (T, vocab). */
    double[][] logits(int[] tokens) {
        int t = tokens.length;
        double[][] x = new double[t][];
        float[] embed = weights.get("model.embed_tokens.weight");
        for (int p = 0; p < t; p++) {
            x[p] = new double[hidden];
            for (int i = 0; i < hidden; i++) {
                x[p][i] = embed[tokens[p] * hidden + i];
            }
        }
        for (int l = 0; l < layers; l++) {
            String prefix = "model.layers." + l + ".";
            attention(x, prefix);
            mlp(x, prefix);
        }
        float[] head = tied ? embed : weights.get("lm_head.weight");
        double[][] logits = new double[t][];
        for (int p = 0; p < t; p++) {
            logits[p] = linear(rmsNorm(x[p], "model.norm.weight"), head, null, vocab);
        }
        return logits;
    }

    /** x += o_proj(softmax(rope(q) rope(k)^T / sqrt(hd) + causal mask) v), q/k/v from the normed x. */
    private void attention(double[][] x, String prefix) {
        int t = x.length;
        String a = prefix + "self_attn.";
        double[][] q = new double[t][];
        double[][] k = new double[t][];
        double[][] v = new double[t][];
        for (int p = 0; p < t; p++) {
            double[] h = rmsNorm(x[p], prefix + "input_layernorm.weight");
            q[p] = linear(h, weights.get(a + "q_proj.weight"), qkvBias ? weights.get(a + "q_proj.bias") : null, heads * headDim);
            k[p] = linear(h, weights.get(a + "k_proj.weight"), qkvBias ? weights.get(a + "k_proj.bias") : null, kvHeads * headDim);
            v[p] = linear(h, weights.get(a + "v_proj.weight"), qkvBias ? weights.get(a + "v_proj.bias") : null, kvHeads * headDim);
            for (int hq = 0; hq < heads; hq++) {
                rope(q[p], hq * headDim, p);
            }
            for (int hk = 0; hk < kvHeads; hk++) {
                rope(k[p], hk * headDim, p);
            }
        }
        int groups = heads / kvHeads;
        double scale = 1 / Math.sqrt(perturbation == Perturbation.SCALE_FROM_HIDDEN ? hidden / heads : headDim);
        for (int p = 0; p < t; p++) {
            double[] out = new double[heads * headDim];
            for (int hq = 0; hq < heads; hq++) {
                int hk = perturbation == Perturbation.KV_HEADS_TILED ? hq % kvHeads : hq / groups; // repeat_kv
                // transformers' sliding_window_overlay keeps kv_idx > q_idx - sliding_window
                int first = slidingWindow == null ? 0 : Math.max(0, p - slidingWindow + 1);
                double[] scores = new double[p + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = first; s <= p; s++) {
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += q[p][hq * headDim + d] * k[s][hk * headDim + d];
                    }
                    scores[s] = dot * scale;
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = first; s <= p; s++) {
                    scores[s] = Math.exp(scores[s] - max);
                    sum += scores[s];
                }
                for (int s = first; s <= p; s++) {
                    double w = scores[s] / sum;
                    for (int d = 0; d < headDim; d++) {
                        out[hq * headDim + d] += w * v[s][hk * headDim + d];
                    }
                }
            }
            double[] o = linear(out, weights.get(a + "o_proj.weight"), oBias ? weights.get(a + "o_proj.bias") : null, hidden);
            for (int i = 0; i < hidden; i++) {
                x[p][i] += o[i];
            }
        }
    }

    /** x += down_proj(silu(gate_proj(h)) * up_proj(h)), h the normed x. */
    private void mlp(double[][] x, String prefix) {
        String m = prefix + "mlp.";
        for (double[] row : x) {
            double[] h = rmsNorm(row, prefix + "post_attention_layernorm.weight");
            double[] gate = linear(h, weights.get(m + "gate_proj.weight"), mlpBias ? weights.get(m + "gate_proj.bias") : null, intermediate);
            double[] up = linear(h, weights.get(m + "up_proj.weight"), mlpBias ? weights.get(m + "up_proj.bias") : null, intermediate);
            double[] act = new double[intermediate];
            for (int i = 0; i < intermediate; i++) {
                act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
            }
            double[] down = linear(act, weights.get(m + "down_proj.weight"), mlpBias ? weights.get(m + "down_proj.bias") : null, hidden);
            for (int i = 0; i < hidden; i++) {
                row[i] += down[i];
            }
        }
    }

    /** LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps). */
    private double[] rmsNorm(double[] x, String weight) {
        float[] w = weights.get(weight);
        double squares = 0;
        for (double v : x) {
            squares += v * v;
        }
        double inv = 1 / Math.sqrt(squares / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = w[i] * (x[i] * inv);
        }
        return out;
    }

    /** nn.Linear: x W^T + b, W (out, in) row-major. */
    private static double[] linear(double[] x, float[] w, float[] bias, int out) {
        int in = x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int i = 0; i < in; i++) {
                s += w[o * in + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    /**
     * apply_rotary_pos_emb on one head at {@code o}: x * cos + rotate_half(x) * sin, with
     * cos/sin = cat(freqs, freqs) and rotate_half(x) = cat(-x2, x1).
     */
    private void rope(double[] x, int o, int position) {
        int half = headDim / 2;
        if (perturbation == Perturbation.ROPE_INTERLEAVED) {
            for (int i = 0; i < half; i++) {
                double c = Math.cos(position * inverseFrequencies[i]);
                double s = Math.sin(position * inverseFrequencies[i]);
                double a = x[o + 2 * i];
                double b = x[o + 2 * i + 1];
                x[o + 2 * i] = a * c - b * s;
                x[o + 2 * i + 1] = b * c + a * s;
            }
            return;
        }
        for (int i = 0; i < half; i++) {
            double c = Math.cos(position * inverseFrequencies[i]);
            double s = Math.sin(position * inverseFrequencies[i]);
            double a = x[o + i];
            double b = x[o + half + i];
            x[o + i] = a * c - b * s;
            x[o + half + i] = b * c + a * s;
        }
    }

    /**
     * Random weights for every tensor the architecture has, in transformers' names and nn.Linear's
     * (out, in) shapes; lm_head.weight only when untied, as save_pretrained leaves it out otherwise.
     * Scales keep activations of order one, biases large enough that dropping one shows.
     */
    static Map<String, float[]> randomWeights(JsonNode config, long seed) {
        Float64Llama shape = new Float64Llama(config, Map.of(), Perturbation.NONE);
        Map<String, long[]> shapes = shape.tensorShapes();
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            long[] s = e.getValue();
            int count = Math.toIntExact(s.length == 1 ? s[0] : s[0] * s[1]);
            double center = 0;
            double bound;
            if (name.endsWith("norm.weight")) {
                center = 1;
                bound = 0.3;
            } else if (name.endsWith(".bias")) {
                bound = 0.5;
            } else if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
                bound = Math.sqrt(3.0 / shape.hidden);
            } else {
                bound = Math.sqrt(3.0 / s[1]); // uniform(-b, b) has variance b^2 / 3: std 1/sqrt(in)
            }
            float[] v = new float[count];
            for (int i = 0; i < count; i++) {
                v[i] = (float) (center + (random.nextDouble() * 2 - 1) * bound);
            }
            weights.put(name, v);
        }
        return weights;
    }

    private Map<String, long[]> tensorShapes() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            String a = p + "self_attn.";
            s.put(a + "q_proj.weight", new long[] {heads * headDim, hidden});
            s.put(a + "k_proj.weight", new long[] {kvHeads * headDim, hidden});
            s.put(a + "v_proj.weight", new long[] {kvHeads * headDim, hidden});
            s.put(a + "o_proj.weight", new long[] {hidden, heads * headDim});
            if (qkvBias) {
                s.put(a + "q_proj.bias", new long[] {heads * headDim});
                s.put(a + "k_proj.bias", new long[] {kvHeads * headDim});
                s.put(a + "v_proj.bias", new long[] {kvHeads * headDim});
            }
            if (oBias) {
                s.put(a + "o_proj.bias", new long[] {hidden});
            }
            String m = p + "mlp.";
            s.put(m + "gate_proj.weight", new long[] {intermediate, hidden});
            s.put(m + "up_proj.weight", new long[] {intermediate, hidden});
            s.put(m + "down_proj.weight", new long[] {hidden, intermediate});
            if (mlpBias) {
                s.put(m + "gate_proj.bias", new long[] {intermediate});
                s.put(m + "up_proj.bias", new long[] {intermediate});
                s.put(m + "down_proj.bias", new long[] {hidden});
            }
            s.put(p + "input_layernorm.weight", new long[] {hidden});
            s.put(p + "post_attention_layernorm.weight", new long[] {hidden});
        }
        s.put("model.norm.weight", new long[] {hidden});
        if (!tied) {
            s.put("lm_head.weight", new long[] {vocab, hidden});
        }
        return s;
    }

    /** config.json and model.safetensors (header length, JSON header, little-endian F32 data) into {@code dir}. */
    static void write(Path dir, JsonNode config, Map<String, float[]> weights) {
        Float64Llama shape = new Float64Llama(config, weights, Perturbation.NONE);
        Map<String, long[]> shapes = shape.tensorShapes();
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = (long) weights.get(e.getKey()).length * Float.BYTES;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shapeArray = t.putArray("shape");
            for (long d : e.getValue()) {
                shapeArray.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        try {
            StringBuilder json = new StringBuilder(JSON.writeValueAsString(header));
            while (json.length() % 8 != 0) {
                json.append(' ');
            }
            byte[] head = json.toString().getBytes(StandardCharsets.UTF_8);
            ByteBuffer file = ByteBuffer.allocate(Math.toIntExact(8 + head.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
            file.putLong(head.length).put(head);
            for (String name : shapes.keySet()) {
                for (float v : weights.get(name)) {
                    file.putFloat(v);
                }
            }
            Files.createDirectories(dir);
            Files.write(dir.resolve("model.safetensors"), file.array());
            Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
