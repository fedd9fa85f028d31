package dev.forgeline.engine.model;

import java.nio.FloatBuffer;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link CpuDecodeKernel}'s attention of a prompt's positions (a prefill): the queries that read
 * one kv head (query heads of a group, positions of the chunk), four at a time, on the Vector API.
 * Each key and value vector loaded serves four queries, where {@link SimdAttention}, made for one
 * new token, loads it for one. Same math: out = softmax(q K^T) V, query i over positions [0,
 * length_i) (causal).
 *
 * <p>The head's keys and values are copied out of the cache into arrays (on JDK 17 every vector
 * load from a direct buffer carries checks), as far as the queries so far need: a head's later
 * tiles, whose positions attend further, copy only the positions past those. One instance per part
 * of the team: it holds that part's scratch.
 */
final class SimdPromptAttention {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    static final int TILE = 4; // queries that share each load

    private float[] keyBlock = new float[0]; // (headDim, stride): a dimension's positions contiguous
    private float[] valueBlock = new float[0]; // (longest, headDim)
    private float[] scores = new float[0]; // (TILE, stride)
    private final float[] scale = new float[TILE];

    // The kv head at hand: where its keys (headDim, allocated) and values (allocated, headDim) are, in floats.
    private FloatBuffer keys;
    private FloatBuffer values;
    private int keyBase;
    private int valueBase;
    private int allocated;
    private int headDim;
    private int stride; // the longest length, in whole vectors
    private int copied; // positions [0, copied) are in keyBlock and valueBlock

    /**
     * Starts a kv head, whose queries will attend over at most {@code longest} positions: keys
     * (headDim, allocated) from {@code keyBase}, values (allocated, headDim) from {@code valueBase},
     * in floats. They must not change until the next head.
     */
    void head(FloatBuffer keys, int keyBase, int allocated, FloatBuffer values, int valueBase, int headDim, int longest) {
        this.keys = keys;
        this.keyBase = keyBase;
        this.allocated = allocated;
        this.values = values;
        this.valueBase = valueBase;
        this.headDim = headDim;
        this.stride = (longest + LANES - 1) / LANES * LANES;
        this.copied = 0;
        if (keyBlock.length < headDim * stride) {
            keyBlock = new float[headDim * stride];
            scores = new float[TILE * stride];
        }
        if (valueBlock.length < longest * headDim) {
            valueBlock = new float[longest * headDim];
        }
    }

    /**
     * For queries i in [0, count) of the head: out[outOffset[i], + headDim) = softmax(q_i K^T) V
     * over positions [0, length[i]), q_i at {@code q[qOffset[i]]} (rotated, scaled by 1/sqrt(hd)).
     * Lengths must not decrease with i, nor from one call to the next.
     */
    void attend(float[] q, int[] qOffset, int[] length, int count, float[] out, int[] outOffset) {
        copyUpTo(length[count - 1]);
        for (int i = 0; i < count; i += TILE) {
            // Past count the last query repeats: it computes and writes the same outputs again.
            int a = i;
            int b = Math.min(i + 1, count - 1);
            int c = Math.min(i + 2, count - 1);
            int e = Math.min(i + 3, count - 1);
            int tileLength = length[e];
            int tileStride = (tileLength + LANES - 1) / LANES * LANES;
            scores(headDim, stride, tileStride, q, qOffset[a], qOffset[b], qOffset[c], qOffset[e]);
            scale[0] = 1f / softmaxNumerators(0, length[a], tileLength);
            scale[1] = 1f / softmaxNumerators(stride, length[b], tileLength);
            scale[2] = 1f / softmaxNumerators(2 * stride, length[c], tileLength);
            scale[3] = 1f / softmaxNumerators(3 * stride, length[e], tileLength);
            weightedValues(headDim, stride, tileLength, out, outOffset[a], outOffset[b], outOffset[c], outOffset[e]);
        }
    }

    /** Copies the head's positions [copied, length); those up to the next whole vector read as 0. */
    private void copyUpTo(int length) {
        if (length <= copied) {
            return;
        }
        int padded = Math.min(stride, (length + LANES - 1) / LANES * LANES);
        for (int d = 0; d < headDim; d++) {
            keys.get(keyBase + d * allocated + copied, keyBlock, d * stride + copied, length - copied);
            Arrays.fill(keyBlock, d * stride + length, d * stride + padded, 0f); // scores past a length are never read
        }
        values.get(valueBase + copied * headDim, valueBlock, copied * headDim, (length - copied) * headDim);
        copied = length;
    }

    /**
     * scores[t * stride + s] = q_t . k_s for the tile's four queries, positions [0, tileStride):
     * 64 positions by four queries, sixteen sums, per key dimension.
     */
    private void scores(int headDim, int stride, int tileStride, float[] q, int qa, int qb, int qc, int qd) {
        float[] k = keyBlock;
        int s = 0;
        for (; s + 4 * LANES <= tileStride; s += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0; // query a, positions s + [0, 64)
            FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0;
            FloatVector d0 = a0, d1 = a0, d2 = a0, d3 = a0;
            for (int d = 0; d < headDim; d++) {
                int at = d * stride + s;
                FloatVector k0 = FloatVector.fromArray(SPECIES, k, at);
                FloatVector k1 = FloatVector.fromArray(SPECIES, k, at + LANES);
                FloatVector k2 = FloatVector.fromArray(SPECIES, k, at + 2 * LANES);
                FloatVector k3 = FloatVector.fromArray(SPECIES, k, at + 3 * LANES);
                FloatVector x = FloatVector.broadcast(SPECIES, q[qa + d]);
                a0 = k0.fma(x, a0); a1 = k1.fma(x, a1); a2 = k2.fma(x, a2); a3 = k3.fma(x, a3);
                x = FloatVector.broadcast(SPECIES, q[qb + d]);
                b0 = k0.fma(x, b0); b1 = k1.fma(x, b1); b2 = k2.fma(x, b2); b3 = k3.fma(x, b3);
                x = FloatVector.broadcast(SPECIES, q[qc + d]);
                c0 = k0.fma(x, c0); c1 = k1.fma(x, c1); c2 = k2.fma(x, c2); c3 = k3.fma(x, c3);
                x = FloatVector.broadcast(SPECIES, q[qd + d]);
                d0 = k0.fma(x, d0); d1 = k1.fma(x, d1); d2 = k2.fma(x, d2); d3 = k3.fma(x, d3);
            }
            a0.intoArray(scores, s); a1.intoArray(scores, s + LANES);
            a2.intoArray(scores, s + 2 * LANES); a3.intoArray(scores, s + 3 * LANES);
            int o = stride + s;
            b0.intoArray(scores, o); b1.intoArray(scores, o + LANES);
            b2.intoArray(scores, o + 2 * LANES); b3.intoArray(scores, o + 3 * LANES);
            o += stride;
            c0.intoArray(scores, o); c1.intoArray(scores, o + LANES);
            c2.intoArray(scores, o + 2 * LANES); c3.intoArray(scores, o + 3 * LANES);
            o += stride;
            d0.intoArray(scores, o); d1.intoArray(scores, o + LANES);
            d2.intoArray(scores, o + 2 * LANES); d3.intoArray(scores, o + 3 * LANES);
        }
        for (; s < tileStride; s += LANES) {
            FloatVector a = FloatVector.zero(SPECIES), b = a, c = a, e = a;
            for (int d = 0; d < headDim; d++) {
                FloatVector kd = FloatVector.fromArray(SPECIES, k, d * stride + s);
                a = kd.fma(FloatVector.broadcast(SPECIES, q[qa + d]), a);
                b = kd.fma(FloatVector.broadcast(SPECIES, q[qb + d]), b);
                c = kd.fma(FloatVector.broadcast(SPECIES, q[qc + d]), c);
                e = kd.fma(FloatVector.broadcast(SPECIES, q[qd + d]), e);
            }
            a.intoArray(scores, s);
            b.intoArray(scores, stride + s);
            c.intoArray(scores, 2 * stride + s);
            e.intoArray(scores, 3 * stride + s);
        }
    }

    /**
     * scores[from + s] = exp(scores[from + s] - max) for s below length, 0 from there to
     * tileLength (the tile's longer queries read those values); returns their sum.
     */
    private float softmaxNumerators(int from, int length, int tileLength) {
        float sum = SimdAttention.softmaxNumerators(scores, from, length);
        Arrays.fill(scores, from + length, from + tileLength, 0f);
        return sum;
    }

    /**
     * out_t = scale_t * sum over s of p_t[s] v_s for the tile's four queries: 64 dimensions by four
     * queries (sixteen sums) per position, then 16 dimensions, then one at a time.
     */
    private void weightedValues(int headDim, int stride, int tileLength, float[] out, int oa, int ob, int oc, int od) {
        float[] v = valueBlock;
        float[] p = scores;
        int pb = stride;
        int pc = 2 * stride;
        int pd = 3 * stride;
        int d = 0;
        for (; d + 4 * LANES <= headDim; d += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0; // query a, dimensions d + [0, 64)
            FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0;
            FloatVector d0 = a0, d1 = a0, d2 = a0, d3 = a0;
            for (int s = 0; s < tileLength; s++) {
                int at = s * headDim + d;
                FloatVector v0 = FloatVector.fromArray(SPECIES, v, at);
                FloatVector v1 = FloatVector.fromArray(SPECIES, v, at + LANES);
                FloatVector v2 = FloatVector.fromArray(SPECIES, v, at + 2 * LANES);
                FloatVector v3 = FloatVector.fromArray(SPECIES, v, at + 3 * LANES);
                FloatVector x = FloatVector.broadcast(SPECIES, p[s]);
                a0 = v0.fma(x, a0); a1 = v1.fma(x, a1); a2 = v2.fma(x, a2); a3 = v3.fma(x, a3);
                x = FloatVector.broadcast(SPECIES, p[pb + s]);
                b0 = v0.fma(x, b0); b1 = v1.fma(x, b1); b2 = v2.fma(x, b2); b3 = v3.fma(x, b3);
                x = FloatVector.broadcast(SPECIES, p[pc + s]);
                c0 = v0.fma(x, c0); c1 = v1.fma(x, c1); c2 = v2.fma(x, c2); c3 = v3.fma(x, c3);
                x = FloatVector.broadcast(SPECIES, p[pd + s]);
                d0 = v0.fma(x, d0); d1 = v1.fma(x, d1); d2 = v2.fma(x, d2); d3 = v3.fma(x, d3);
            }
            float sa = scale[0], sb = scale[1], sc = scale[2], sd = scale[3];
            a0.mul(sa).intoArray(out, oa + d); a1.mul(sa).intoArray(out, oa + d + LANES);
            a2.mul(sa).intoArray(out, oa + d + 2 * LANES); a3.mul(sa).intoArray(out, oa + d + 3 * LANES);
            b0.mul(sb).intoArray(out, ob + d); b1.mul(sb).intoArray(out, ob + d + LANES);
            b2.mul(sb).intoArray(out, ob + d + 2 * LANES); b3.mul(sb).intoArray(out, ob + d + 3 * LANES);
            c0.mul(sc).intoArray(out, oc + d); c1.mul(sc).intoArray(out, oc + d + LANES);
            c2.mul(sc).intoArray(out, oc + d + 2 * LANES); c3.mul(sc).intoArray(out, oc + d + 3 * LANES);
            d0.mul(sd).intoArray(out, od + d); d1.mul(sd).intoArray(out, od + d + LANES);
            d2.mul(sd).intoArray(out, od + d + 2 * LANES); d3.mul(sd).intoArray(out, od + d + 3 * LANES);
        }
        for (; d + LANES <= headDim; d += LANES) {
            FloatVector a = FloatVector.zero(SPECIES), b = a, c = a, e = a;
            for (int s = 0; s < tileLength; s++) {
                FloatVector vs = FloatVector.fromArray(SPECIES, v, s * headDim + d);
                a = vs.fma(FloatVector.broadcast(SPECIES, p[s]), a);
                b = vs.fma(FloatVector.broadcast(SPECIES, p[pb + s]), b);
                c = vs.fma(FloatVector.broadcast(SPECIES, p[pc + s]), c);
                e = vs.fma(FloatVector.broadcast(SPECIES, p[pd + s]), e);
            }
            a.mul(scale[0]).intoArray(out, oa + d);
            b.mul(scale[1]).intoArray(out, ob + d);
            c.mul(scale[2]).intoArray(out, oc + d);
            e.mul(scale[3]).intoArray(out, od + d);
        }
        for (; d < headDim; d++) {
            float a = 0f, b = 0f, c = 0f, e = 0f;
            for (int s = 0; s < tileLength; s++) {
                float vs = v[s * headDim + d];
                a += p[s] * vs;
                b += p[pb + s] * vs;
                c += p[pc + s] * vs;
                e += p[pd + s] * vs;
            }
            out[oa + d] = a * scale[0];
            out[ob + d] = b * scale[1];
            out[oc + d] = c * scale[2];
            out[od + d] = e * scale[3];
        }
    }
}
