package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.config.RopeScaling;
import java.nio.FloatBuffer;

/**
 * Rotary position embedding (Su et al., RoFormer) in the Hugging Face convention: dimension i
 * pairs with i + head_dim/2 ("rotate_half"), not with its neighbour as in the Meta and llama2.c
 * code; HF checkpoints have q/k rows permuted to match.
 *
 * <p>{@code rope(x) = x * cos + rotate_half(x) * sin}. rotate_half is a fixed signed
 * permutation, so it is one matmul with {@link #rotation()} rather than split, negate and concat.
 */
public final class RotaryEmbedding {

    private final int headDim;
    private final float[] inverseFrequencies; // (head_dim / 2)
    private final NDArray rotation; // (hd, hd): x @ rotation == rotate_half(x)

    public RotaryEmbedding(ModelConfig config, NDManager manager, DataType dtype) {
        this.headDim = config.headDim();
        this.inverseFrequencies = inverseFrequencies(config);
        int half = headDim / 2;
        float[] r = new float[headDim * headDim];
        for (int j = 0; j < half; j++) {
            r[(j + half) * headDim + j] = -1f; // out[j] = -x[j + half]
            r[j * headDim + j + half] = 1f; // out[j + half] = x[j]
        }
        this.rotation = manager.create(FloatBuffer.wrap(r), new Shape(headDim, headDim)).toType(dtype, false);
    }

    /**
     * theta^(-2i/d), rescaled as rope_scaling asks. Computed in float32 like transformers and
     * llama2.c, so positions far into the context round the same way as the reference code.
     */
    static float[] inverseFrequencies(ModelConfig config) {
        int dim = config.headDim();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / Math.pow(config.ropeTheta(), (float) (2 * i) / dim));
        }
        RopeScaling s = config.ropeScaling();
        switch (s.type()) {
            case "linear" -> {
                for (int i = 0; i < inv.length; i++) {
                    inv[i] = (float) (inv[i] / s.factor());
                }
            }
            case "llama3" -> {
                // Llama 3.1: long wavelengths (low frequencies) are slowed by `factor`, short ones
                // kept, and the band in between interpolated smoothly.
                double oldContext = s.originalMaxPositionEmbeddings();
                double lowFreqWavelen = oldContext / s.lowFreqFactor();
                double highFreqWavelen = oldContext / s.highFreqFactor();
                for (int i = 0; i < inv.length; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double scaled = wavelen > lowFreqWavelen ? inv[i] / s.factor() : inv[i];
                    boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                    if (medium) {
                        double smooth = (oldContext / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                        scaled = (1 - smooth) * scaled / s.factor() + smooth * scaled;
                    }
                    inv[i] = (float) scaled;
                }
            }
            default -> { }
        }
        return inv;
    }

    /**
     * cos and sin of position * theta_i for i in [0, hd/2), into {@code cos} and {@code sin} from
     * {@code offset}. The angle is a float32 product, as in the references, so positions far
     * into the context round the same way.
     */
    public void halfAngles(int position, float[] cos, float[] sin, int offset) {
        for (int i = 0; i < inverseFrequencies.length; i++) {
            float angle = position * inverseFrequencies[i];
            cos[offset + i] = (float) Math.cos(angle);
            sin[offset + i] = (float) Math.sin(angle);
        }
    }

    public NDArray rotation() {
        return rotation;
    }

    /**
     * cos and sin for every head of a fused q|k|v activation at the given positions, shaped
     * (B, T, qHeads + 2 kvHeads, hd). Two conventions ride along to save native calls in every
     * layer: query heads carry the attention scale 1/sqrt(hd) (rotation is linear, so scaling
     * before it equals scaling the scores after), and value heads get cos 1, sin 0 (no rotation).
     *
     * @param positions B*T absolute positions, row-major
     */
    public Angles angles(NDManager manager, int[] positions, int batch, int seqLen, int qHeads, int kvHeads,
            float queryScale, DataType dtype) {
        int heads = qHeads + 2 * kvHeads;
        int half = headDim / 2;
        float[] cos = new float[positions.length * heads * headDim];
        float[] sin = new float[cos.length];
        float[] c = new float[headDim];
        float[] s = new float[headDim];
        for (int p = 0; p < positions.length; p++) {
            halfAngles(positions[p], c, s, 0);
            System.arraycopy(c, 0, c, half, half);
            System.arraycopy(s, 0, s, half, half);
            int base = p * heads * headDim;
            for (int h = 0; h < heads; h++) {
                int o = base + h * headDim;
                if (h < qHeads) {
                    for (int j = 0; j < headDim; j++) {
                        cos[o + j] = c[j] * queryScale;
                        sin[o + j] = s[j] * queryScale;
                    }
                } else if (h < qHeads + kvHeads) {
                    System.arraycopy(c, 0, cos, o, headDim);
                    System.arraycopy(s, 0, sin, o, headDim);
                } else {
                    java.util.Arrays.fill(cos, o, o + headDim, 1f);
                }
            }
        }
        Shape shape = new Shape(batch, seqLen, heads, headDim);
        NDArray cosArray = manager.create(FloatBuffer.wrap(cos), shape);
        NDArray sinArray = manager.create(FloatBuffer.wrap(sin), shape);
        if (dtype != DataType.FLOAT32) {
            cosArray = cosArray.toType(dtype, false);
            sinArray = sinArray.toType(dtype, false);
        }
        return new Angles(cosArray, sinArray, rotation);
    }

    /**
     * The same rotation for single-token steps as one (hd, hd) matrix per row and head, so a
     * layer rotates q, k and v with one batched matmul instead of four elementwise ops:
     * {@code x @ M = x * cos + rotate_half(x) * sin} with {@code M = diag(cos) + R diag(sin)},
     * scaled by 1/sqrt(hd) for query heads and the identity for value heads.
     *
     * @param positions one position per row
     * @return (B, qHeads + 2 kvHeads, hd, hd)
     */
    public NDArray decodeMatrices(NDManager manager, int[] positions, int qHeads, int kvHeads, float queryScale,
            DataType dtype) {
        int heads = qHeads + 2 * kvHeads;
        int half = headDim / 2;
        int block = headDim * headDim;
        float[] m = new float[positions.length * heads * block];
        float[] c = new float[half];
        float[] s = new float[half];
        for (int b = 0; b < positions.length; b++) {
            halfAngles(positions[b], c, s, 0);
            for (int h = 0; h < heads; h++) {
                int o = (b * heads + h) * block;
                if (h >= qHeads + kvHeads) {
                    for (int j = 0; j < headDim; j++) {
                        m[o + j * headDim + j] = 1f;
                    }
                    continue;
                }
                float scale = h < qHeads ? queryScale : 1f;
                for (int j = 0; j < half; j++) {
                    // column j:        x[j] cos - x[j+half] sin
                    // column j + half: x[j+half] cos + x[j] sin
                    m[o + j * headDim + j] = c[j] * scale;
                    m[o + (j + half) * headDim + j] = -s[j] * scale;
                    m[o + (j + half) * headDim + j + half] = c[j] * scale;
                    m[o + j * headDim + j + half] = s[j] * scale;
                }
            }
        }
        NDArray a = manager.create(FloatBuffer.wrap(m), new Shape(positions.length, heads, headDim, headDim));
        return dtype == DataType.FLOAT32 ? a : a.toType(dtype, false);
    }

    /** Per-step rotation tables shared by every layer. */
    public record Angles(NDArray cos, NDArray sin, NDArray rotation) {
        /** x (B, T, heads, hd) -> same shape, rotated. */
        public NDArray apply(NDArray x) {
            return x.mul(cos).add(x.matMul(rotation).mul(sin));
        }
    }
}
