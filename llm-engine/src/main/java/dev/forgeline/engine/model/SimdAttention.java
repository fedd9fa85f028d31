package dev.forgeline.engine.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link CpuDecodeKernel}'s attention of one new token over a cache row, on the Vector API,
 * reading keys and values in place from the cache's memory. Same math as the kernel's scalar
 * loop, which copies each head's keys out of the cache first.
 *
 * <p>Layouts, in floats: keys (headDim, allocated) from {@code keyBase}, so a dimension's
 * positions are contiguous; values (allocated, headDim) from {@code valueBase}.
 */
final class SimdAttention {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private SimdAttention() {}

    /**
     * For each of the {@code groups} query heads at {@code q[qOffset + g * headDim]} (rotated,
     * scaled by 1/sqrt(hd)): out = softmax(q K^T) V over positions [0, length).
     * {@code scores} holds at least {@code allocated} floats.
     */
    static void attendGroup(ByteBuffer keys, int keyBase, int allocated, ByteBuffer values, int valueBase,
            int length, int headDim, int groups, float[] q, int qOffset, float[] out, int outOffset, float[] scores) {
        for (int g = 0; g < groups; g++) {
            int qg = qOffset + g * headDim;
            scores(keys, keyBase, allocated, length, headDim, q, qg, scores);
            float sum = softmaxNumerators(scores, 0, length);
            weightedValues(values, valueBase, length, headDim, scores, 1f / sum, out, outOffset + g * headDim);
        }
    }

    /**
     * scores[s] = q . k_s, 64 positions at a time down the key dimensions: four independent sums,
     * each dimension's positions read contiguously. (One sum of sixteen positions is a chain of
     * dependent multiply-adds, which made attention over long caches cost more than the weight
     * products.)
     */
    private static void scores(ByteBuffer keys, int keyBase, int allocated, int length, int headDim, float[] q, int qg,
            float[] scores) {
        int s = 0;
        for (; s + 4 * LANES <= length; s += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int d = 0; d < headDim; d++) {
                FloatVector qd = FloatVector.broadcast(SPECIES, q[qg + d]);
                int at = (keyBase + d * allocated + s) * Float.BYTES;
                a0 = FloatVector.fromByteBuffer(SPECIES, keys, at, ORDER).fma(qd, a0);
                a1 = FloatVector.fromByteBuffer(SPECIES, keys, at + LANES * Float.BYTES, ORDER).fma(qd, a1);
                a2 = FloatVector.fromByteBuffer(SPECIES, keys, at + 2 * LANES * Float.BYTES, ORDER).fma(qd, a2);
                a3 = FloatVector.fromByteBuffer(SPECIES, keys, at + 3 * LANES * Float.BYTES, ORDER).fma(qd, a3);
            }
            a0.intoArray(scores, s);
            a1.intoArray(scores, s + LANES);
            a2.intoArray(scores, s + 2 * LANES);
            a3.intoArray(scores, s + 3 * LANES);
        }
        /*
         * The last positions a vector at a time, two sums down the dimensions. Lanes past length
         * read the cache's unused slots (allocated >= s + LANES) and are never read back; one
         * position at a time, each score was a chain of headDim dependent multiply-adds.
         */
        for (; s < length && s + LANES <= allocated; s += LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0;
            int d = 0;
            for (; d + 2 <= headDim; d += 2) {
                int at = (keyBase + d * allocated + s) * Float.BYTES;
                a0 = FloatVector.fromByteBuffer(SPECIES, keys, at, ORDER).fma(FloatVector.broadcast(SPECIES, q[qg + d]), a0);
                a1 = FloatVector.fromByteBuffer(SPECIES, keys, at + allocated * Float.BYTES, ORDER)
                        .fma(FloatVector.broadcast(SPECIES, q[qg + d + 1]), a1);
            }
            if (d < headDim) {
                a0 = FloatVector.fromByteBuffer(SPECIES, keys, (keyBase + d * allocated + s) * Float.BYTES, ORDER)
                        .fma(FloatVector.broadcast(SPECIES, q[qg + d]), a0);
            }
            a0.add(a1).intoArray(scores, s);
        }
        for (; s < length; s++) {
            float dot = 0f;
            for (int d = 0; d < headDim; d++) {
                dot += q[qg + d] * keys.getFloat((keyBase + d * allocated + s) * Float.BYTES);
            }
            scores[s] = dot;
        }
    }

    /** scores[from + s] = exp(scores[from + s] - max) for s in [0, length); returns their sum. */
    static float softmaxNumerators(float[] scores, int from, int length) {
        float max = Float.NEGATIVE_INFINITY;
        int s = 0;
        for (int whole = SPECIES.loopBound(length); s < whole; s += LANES) {
            max = Math.max(max, FloatVector.fromArray(SPECIES, scores, from + s).reduceLanes(VectorOperators.MAX));
        }
        for (; s < length; s++) {
            max = Math.max(max, scores[from + s]);
        }
        FloatVector sums = FloatVector.zero(SPECIES);
        s = 0;
        for (int whole = SPECIES.loopBound(length); s < whole; s += LANES) {
            FloatVector e = VectorExp.exp(FloatVector.fromArray(SPECIES, scores, from + s).sub(max));
            e.intoArray(scores, from + s);
            sums = sums.add(e);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; s < length; s++) {
            float e = (float) Math.exp(scores[from + s] - max);
            scores[from + s] = e;
            sum += e;
        }
        return sum;
    }

    /**
     * out[d] = sum over s of scores[s] * scale * v_s[d], 64 dimensions at a time: four independent
     * sums over the positions, each position's values read contiguously.
     */
    private static void weightedValues(ByteBuffer values, int valueBase, int length, int headDim, float[] scores,
            float scale, float[] out, int o) {
        int d = 0;
        for (; d + 4 * LANES <= headDim; d += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int s = 0; s < length; s++) {
                FloatVector p = FloatVector.broadcast(SPECIES, scores[s]);
                int at = (valueBase + s * headDim + d) * Float.BYTES;
                a0 = FloatVector.fromByteBuffer(SPECIES, values, at, ORDER).fma(p, a0);
                a1 = FloatVector.fromByteBuffer(SPECIES, values, at + LANES * Float.BYTES, ORDER).fma(p, a1);
                a2 = FloatVector.fromByteBuffer(SPECIES, values, at + 2 * LANES * Float.BYTES, ORDER).fma(p, a2);
                a3 = FloatVector.fromByteBuffer(SPECIES, values, at + 3 * LANES * Float.BYTES, ORDER).fma(p, a3);
            }
            a0.mul(scale).intoArray(out, o + d);
            a1.mul(scale).intoArray(out, o + d + LANES);
            a2.mul(scale).intoArray(out, o + d + 2 * LANES);
            a3.mul(scale).intoArray(out, o + d + 3 * LANES);
        }
        for (; d + LANES <= headDim; d += LANES) {
            FloatVector acc = FloatVector.zero(SPECIES);
            for (int s = 0; s < length; s++) {
                acc = FloatVector.fromByteBuffer(SPECIES, values, (valueBase + s * headDim + d) * Float.BYTES, ORDER)
                        .fma(FloatVector.broadcast(SPECIES, scores[s]), acc);
            }
            acc.mul(scale).intoArray(out, o + d);
        }
        for (; d < headDim; d++) {
            float sum = 0f;
            for (int s = 0; s < length; s++) {
                sum += scores[s] * values.getFloat((valueBase + s * headDim + d) * Float.BYTES);
            }
            out[o + d] = sum * scale;
        }
    }
}
