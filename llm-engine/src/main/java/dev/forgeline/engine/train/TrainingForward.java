package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.Attention;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.DecoderLayer;
import dev.forgeline.engine.model.RmsNorm;
import dev.forgeline.engine.model.RotaryEmbedding;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * The model's forward over a training {@link Batch}, recording gradients when called inside
 * {@link Autograd}. It runs the same weights and projections as {@link CausalLm#forward} (LoRA
 * adapters included, through {@link dev.forgeline.engine.model.Linear#forward}) but takes its
 * positions and mask from the batch: packed rows restart positions per example and mask
 * attention block-diagonally, which the inference {@code Step} (positions 0..T-1, plain causal
 * mask) cannot express.
 *
 * <p>Norms and softmax run in the model's dtype when it is float32 or float64 (the inference
 * path upcasts everything that is not float32 to float32, which would make a float64 gradient
 * check meaningless), and in float32 for 16-bit models.
 */
public final class TrainingForward {

    private final CausalLm model;
    private final ModelConfig config;
    private final RotaryEmbedding rotary;
    private final DataType dtype;
    private final boolean wide; // float32 or float64: compute in place, no upcast

    public TrainingForward(CausalLm model) {
        this.model = model;
        this.config = model.config();
        this.dtype = model.dataType();
        this.rotary = new RotaryEmbedding(config, model.manager(), dtype);
        this.wide = dtype == DataType.FLOAT32 || dtype == DataType.FLOAT64;
    }

    /** Final-norm hidden states (B, T, hidden), created in {@code m}. */
    public NDArray hidden(NDManager m, Batch batch) {
        int b = batch.rows();
        int t = batch.seqLen();
        NDArray ids = m.create(LongBuffer.wrap(toLongs(batch.ids())), new Shape(b, t));
        RotaryEmbedding.Angles angles = rotary.angles(m, batch.positions(), b, t, config.numAttentionHeads(),
                config.numKeyValueHeads(), (float) (1.0 / Math.sqrt(config.headDim())), dtype);
        NDArray mask = mask(m, batch);
        NDArray x = ids.getNDArrayInternal().embedding(ids, model.embedTokens(), SparseFormat.DENSE)
                .singletonOrThrow(); // (B, T, hidden)
        for (DecoderLayer layer : model.layers()) {
            NDArray h = x.add(attention(layer.attention(), norm(layer.inputNorm(), x), angles, mask, b, t));
            x = h.add(layer.mlp().forward(norm(layer.postAttentionNorm(), h)));
        }
        return norm(model.norm(), x);
    }

    /** Logits at every position (B, T, vocab). */
    public NDArray logits(NDManager m, Batch batch) {
        return model.logits(hidden(m, batch));
    }

    /**
     * Sum over the batch's labelled positions of -log p(label) (a scalar). Only labelled rows go
     * through lm_head and the softmax: in SFT most positions are prompt, and lm_head is the
     * widest matrix of a small model.
     */
    public NDArray lossSum(NDManager m, Batch batch) {
        long[] rows = new long[batch.targets()];
        long[] labels = new long[batch.targets()];
        int k = 0;
        for (int i = 0; i < batch.labels().length; i++) {
            if (batch.labels()[i] >= 0) {
                rows[k] = i;
                labels[k++] = batch.labels()[i];
            }
        }
        NDArray hidden = hidden(m, batch).reshape(new Shape((long) batch.rows() * batch.seqLen(), config.hiddenSize()));
        NDArray selected = rows.length == hidden.getShape().get(0)
                ? hidden
                : hidden.get(new NDIndex("{}", m.create(LongBuffer.wrap(rows), new Shape(rows.length)))); // (N, hidden)
        NDArray logits = model.logits(selected); // (N, vocab)
        if (!wide) {
            logits = logits.toType(DataType.FLOAT32, false);
        }
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray picked = logProbs.gather(m.create(LongBuffer.wrap(labels), new Shape(labels.length, 1)), 1); // (N, 1)
        return picked.sum().neg();
    }

    /** x (B, T, hidden) -> (B, T, hidden): grouped-query attention with the batch's mask. */
    private NDArray attention(Attention attention, NDArray x, RotaryEmbedding.Angles angles, NDArray mask, int b, int t) {
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int groups = heads / kvHeads;
        int hd = config.headDim();
        NDArray h = attention.qkv().forward(x).reshape(new Shape(b, t, heads + 2L * kvHeads, hd));
        h = angles.apply(h); // q (pre-scaled by 1/sqrt(hd)) and k rotated, v untouched
        NDList parts = h.split(new long[] {heads, heads + kvHeads}, 2);
        NDArray q = parts.get(0)
                .reshape(new Shape(b, t, kvHeads, groups, hd))
                .transpose(0, 2, 3, 1, 4)
                .reshape(new Shape(b, kvHeads, (long) groups * t, hd)); // (B, nkv, g*T, hd)
        NDArray k = parts.get(1).transpose(0, 2, 3, 1); // (B, nkv, hd, T)
        NDArray v = parts.get(2).transpose(0, 2, 1, 3); // (B, nkv, T, hd)
        NDArray scores = q.matMul(k).add(mask); // (B, nkv, g*T, T)
        NDArray weights = wide ? scores.softmax(-1) : scores.toType(DataType.FLOAT32, false).softmax(-1).toType(dtype, false);
        NDArray out = weights.matMul(v) // (B, nkv, g*T, hd)
                .reshape(new Shape(b, kvHeads, groups, t, hd))
                .transpose(0, 3, 1, 2, 4)
                .reshape(new Shape(b, t, (long) heads * hd)); // (B, T, nh*hd)
        return attention.output().forward(out);
    }

    /** {@code w * x / sqrt(mean(x^2) + eps)}, in float32 for 16-bit models. */
    private NDArray norm(RmsNorm norm, NDArray x) {
        NDArray h = wide ? x : x.toType(DataType.FLOAT32, false);
        NDArray meanSquare = h.square().mean(new int[] {-1}, true);
        h = h.div(meanSquare.add(config.rmsNormEps()).sqrt());
        return (wide ? h : h.toType(dtype, false)).mul(norm.weight());
    }

    /**
     * Additive mask (B, 1, g*T, T): query t sees key j iff both lie in the same segment and
     * j <= t. Padding is its own segment, so padded rows stay finite (they are never labelled).
     */
    private NDArray mask(NDManager m, Batch batch) {
        int b = batch.rows();
        int t = batch.seqLen();
        int groups = config.numAttentionHeads() / config.numKeyValueHeads();
        double blocked = dtype == DataType.FLOAT16 ? -65504 : -1e9; // finite: a masked row must not turn into NaN
        int rowsPerBatch = groups * t;
        int n = b * rowsPerBatch * t;
        double[] mask = new double[n];
        int[] seg = batch.segments();
        for (int r = 0; r < b; r++) {
            for (int g = 0; g < groups; g++) {
                for (int i = 0; i < t; i++) {
                    int row = ((r * groups + g) * t + i) * t;
                    int si = seg[r * t + i];
                    for (int j = 0; j < t; j++) {
                        if (j > i || seg[r * t + j] != si) {
                            mask[row + j] = blocked;
                        }
                    }
                }
            }
        }
        Shape shape = new Shape(b, 1, rowsPerBatch, t);
        if (dtype == DataType.FLOAT64) {
            return m.create(DoubleBuffer.wrap(mask), shape);
        }
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) mask[i];
        }
        NDArray a = m.create(FloatBuffer.wrap(f), shape);
        return dtype == DataType.FLOAT32 ? a : a.toType(dtype, false);
    }

    private static long[] toLongs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
