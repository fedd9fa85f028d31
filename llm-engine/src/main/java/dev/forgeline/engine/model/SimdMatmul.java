package dev.forgeline.engine.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * y (n, out) = x (n, in) W^T for a float32 weight W (out, in) read in place from a tensor's
 * memory, on the JDK's Vector API, the output features split between a few threads.
 *
 * <p>Why not libtorch: at one row this is a matrix-vector product that should run at memory
 * speed, and MKL's fp32 GEMV pays a fixed start-up per call that the 1-7 MB matrices of a small
 * model do not amortize. Up to four rows share each load of a weight vector.
 *
 * <p>From five rows on the work is compute-bound, and kernels that meet each weight vector with
 * many rows stalled streaming the weights from memory: each load is followed by so much work that
 * the out-of-order window reaches too few loads ahead, and Java has no prefetch. A plain copy does
 * stream at memory speed. So the products go block by block (see {@link #features}): each block of
 * weights is copied to a Java array, which stays in cache while all rows read it. Reading vectors
 * from an array also costs fewer instructions than from a direct buffer, which JDK 17 checks at
 * every load.
 *
 * <p>The loops run to {@code SPECIES.loopBound(in)}: with {@code j + LANES <= in} as the test,
 * C2 kept an index check at every vector load.
 *
 * <p>{@link CpuDecodeKernel} sends it the products of weights not packed for {@link PackedMatmul}:
 * one row before any batched step, and any rows where packing failed (no heap room, or vectors
 * narrower than 16). Measurements: docs/performance.md.
 *
 * <p>Needs {@code --add-modules jdk.incubator.vector}: without it this class does not even load,
 * so {@link CpuDecodeKernel} looks for the module before touching it. Not thread-safe: one caller
 * at a time.
 */
final class SimdMatmul {

    /** From this many rows on, the products go block by block (see {@link #features}). */
    private static final int BLOCKED_ROWS = 5;
    /** Weight bytes of one block: it should stay in L2 (1 MB a core here) while the rows use it. */
    private static final int BLOCK_BYTES = 128 << 10;

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private final ThreadTeam team;
    private final IntConsumer partTask = this::part;
    private final float[][] scratch; // per part, a block of weights
    // The product at hand; the team's start of a task publishes them to its workers.
    private ByteBuffer w;
    private int out;
    private int in;
    private float[] x;
    private int n;
    private float[] y;

    /** Whether vectors hold 8 floats or more; measured with 16 (AVX-512), narrower ones not at all. */
    static boolean pays() {
        return LANES >= 8;
    }

    /** Products split their output features between the team's threads. */
    SimdMatmul(ThreadTeam team) {
        this.team = team;
        this.scratch = new float[team.size()][0];
    }

    /** y[0, n * out) = x (n, in) W^T with W (out, in) row-major at the start of {@code weight}. */
    void multiply(ByteBuffer weight, int out, int in, float[] x, int n, float[] y) {
        this.w = weight;
        this.out = out;
        this.in = in;
        this.x = x;
        this.n = n;
        this.y = y;
        team.run(partTask);
    }

    /** Output features of part p. */
    private void part(int p) {
        int parts = team.size();
        int chunk = (out + parts - 1) / parts;
        int from = Math.min(out, p * chunk);
        int to = Math.min(out, from + chunk);
        features(w, in, x, n, y, out, from, to, scratch, p);
    }

    /** Output features [from, to) of all n rows; {@code scratch[p]}: this part's copy of a block. */
    private static void features(ByteBuffer w, int in, float[] x, int n, float[] y, int out, int from, int to,
            float[][] scratch, int p) {
        if (n < BLOCKED_ROWS) {
            eachFeature(w, in, x, n, y, out, from, to);
            return;
        }
        int block = Math.max(4, BLOCK_BYTES / (in * Float.BYTES) & ~3);
        if (scratch[p].length < block * in) {
            scratch[p] = new float[block * in];
        }
        float[] cached = scratch[p];
        FloatBuffer weights = w.asFloatBuffer();
        for (int o = from; o < to; o += block) {
            int end = Math.min(to, o + block);
            weights.get(o * in, cached, 0, (end - o) * in); // W rows [o, end) at memory speed, into cache
            int fours = o + (end - o & ~3);
            for (int r = 0; r < n; ) {
                int rows = n - r == 5 ? 3 : Math.min(4, n - r); // groups of four, then one of three or two
                for (int f = o; f < fours; f += 4) {
                    int wo = (f - o) * in;
                    int yo = r * out + f;
                    if (rows == 4) {
                        fourFeaturesFourRows(cached, wo, x, r * in, in, y, yo, out);
                    } else if (rows == 3) {
                        fourFeaturesThreeRows(cached, wo, x, r * in, in, y, yo, out);
                    } else {
                        fourFeaturesTwoRows(cached, wo, x, r * in, in, y, yo, out);
                    }
                }
                r += rows;
            }
            for (int f = fours; f < end; f++) { // the part's last one to three features
                for (int r = 0; r < n; r++) {
                    y[r * out + f] = dot(cached, (f - o) * in, x, r * in, in);
                }
            }
        }
    }

    /**
     * Features [from, to) of all n rows, one feature at a time, the rows in groups of up to four
     * that share each load of a weight vector.
     */
    private static void eachFeature(ByteBuffer w, int in, float[] x, int n, float[] y, int out, int from, int to) {
        for (int o = from; o < to; o++) {
            int r = 0;
            for (; r + 4 <= n; r += 4) {
                fourRows(w, o * in, x, r * in, in, y, r * out + o, out);
            }
            if (n - r == 3) {
                threeRows(w, o * in, x, r * in, in, y, r * out + o, out);
                r += 3;
            }
            for (; r + 2 <= n; r += 2) {
                twoRows(w, o * in, x, r * in, in, y, r * out + o, out);
            }
            for (; r < n; r++) {
                y[r * out + o] = dot(w, o * in, x, r * in, in);
            }
        }
    }

    /*
     * One method per group size, written out: the accumulators must stay in registers, and a
     * vector kept in an array (or handed to a call that is not inlined) is boxed on the heap.
     */
    private static void twoRows(ByteBuffer w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u = FloatVector.fromByteBuffer(SPECIES, w, (wo + j) * Float.BYTES, ORDER);
            a0 = u.fma(FloatVector.fromArray(SPECIES, x, xo + j), a0);
            a1 = u.fma(FloatVector.fromArray(SPECIES, x, xo + in + j), a1);
        }
        y[yo] = a0.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
        y[yo + out] = a1.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + in, j, in);
    }

    private static void threeRows(ByteBuffer w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u = FloatVector.fromByteBuffer(SPECIES, w, (wo + j) * Float.BYTES, ORDER);
            a0 = u.fma(FloatVector.fromArray(SPECIES, x, xo + j), a0);
            a1 = u.fma(FloatVector.fromArray(SPECIES, x, xo + in + j), a1);
            a2 = u.fma(FloatVector.fromArray(SPECIES, x, xo + 2 * in + j), a2);
        }
        y[yo] = a0.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
        y[yo + out] = a1.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + in, j, in);
        y[yo + 2 * out] = a2.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + 2 * in, j, in);
    }

    private static void fourRows(ByteBuffer w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u = FloatVector.fromByteBuffer(SPECIES, w, (wo + j) * Float.BYTES, ORDER);
            a0 = u.fma(FloatVector.fromArray(SPECIES, x, xo + j), a0);
            a1 = u.fma(FloatVector.fromArray(SPECIES, x, xo + in + j), a1);
            a2 = u.fma(FloatVector.fromArray(SPECIES, x, xo + 2 * in + j), a2);
            a3 = u.fma(FloatVector.fromArray(SPECIES, x, xo + 3 * in + j), a3);
        }
        y[yo] = a0.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
        y[yo + out] = a1.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + in, j, in);
        y[yo + 2 * out] = a2.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + 2 * in, j, in);
        y[yo + 3 * out] = a3.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo + 3 * in, j, in);
    }

    /** Four features (rows wo / in of W on) of four rows (x from xo): 16 sums that share 4 weight and 4 input loads a step. */
    private static void fourFeaturesFourRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u0 = FloatVector.fromArray(SPECIES, w, wo + j);
            FloatVector u1 = FloatVector.fromArray(SPECIES, w, wo + in + j);
            FloatVector u2 = FloatVector.fromArray(SPECIES, w, wo + 2 * in + j);
            FloatVector u3 = FloatVector.fromArray(SPECIES, w, wo + 3 * in + j);
            FloatVector v = FloatVector.fromArray(SPECIES, x, xo + j);
            a00 = u0.fma(v, a00); a01 = u1.fma(v, a01); a02 = u2.fma(v, a02); a03 = u3.fma(v, a03);
            v = FloatVector.fromArray(SPECIES, x, xo + in + j);
            a10 = u0.fma(v, a10); a11 = u1.fma(v, a11); a12 = u2.fma(v, a12); a13 = u3.fma(v, a13);
            v = FloatVector.fromArray(SPECIES, x, xo + 2 * in + j);
            a20 = u0.fma(v, a20); a21 = u1.fma(v, a21); a22 = u2.fma(v, a22); a23 = u3.fma(v, a23);
            v = FloatVector.fromArray(SPECIES, x, xo + 3 * in + j);
            a30 = u0.fma(v, a30); a31 = u1.fma(v, a31); a32 = u2.fma(v, a32); a33 = u3.fma(v, a33);
        }
        store(a00, a01, a02, a03, w, wo, x, xo, j, in, y, yo);
        store(a10, a11, a12, a13, w, wo, x, xo + in, j, in, y, yo + out);
        store(a20, a21, a22, a23, w, wo, x, xo + 2 * in, j, in, y, yo + 2 * out);
        store(a30, a31, a32, a33, w, wo, x, xo + 3 * in, j, in, y, yo + 3 * out);
    }

    /** {@link #fourFeaturesFourRows} for three rows. */
    private static void fourFeaturesThreeRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u0 = FloatVector.fromArray(SPECIES, w, wo + j);
            FloatVector u1 = FloatVector.fromArray(SPECIES, w, wo + in + j);
            FloatVector u2 = FloatVector.fromArray(SPECIES, w, wo + 2 * in + j);
            FloatVector u3 = FloatVector.fromArray(SPECIES, w, wo + 3 * in + j);
            FloatVector v = FloatVector.fromArray(SPECIES, x, xo + j);
            a00 = u0.fma(v, a00); a01 = u1.fma(v, a01); a02 = u2.fma(v, a02); a03 = u3.fma(v, a03);
            v = FloatVector.fromArray(SPECIES, x, xo + in + j);
            a10 = u0.fma(v, a10); a11 = u1.fma(v, a11); a12 = u2.fma(v, a12); a13 = u3.fma(v, a13);
            v = FloatVector.fromArray(SPECIES, x, xo + 2 * in + j);
            a20 = u0.fma(v, a20); a21 = u1.fma(v, a21); a22 = u2.fma(v, a22); a23 = u3.fma(v, a23);
        }
        store(a00, a01, a02, a03, w, wo, x, xo, j, in, y, yo);
        store(a10, a11, a12, a13, w, wo, x, xo + in, j, in, y, yo + out);
        store(a20, a21, a22, a23, w, wo, x, xo + 2 * in, j, in, y, yo + 2 * out);
    }

    /** {@link #fourFeaturesFourRows} for two rows. */
    private static void fourFeaturesTwoRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            FloatVector u0 = FloatVector.fromArray(SPECIES, w, wo + j);
            FloatVector u1 = FloatVector.fromArray(SPECIES, w, wo + in + j);
            FloatVector u2 = FloatVector.fromArray(SPECIES, w, wo + 2 * in + j);
            FloatVector u3 = FloatVector.fromArray(SPECIES, w, wo + 3 * in + j);
            FloatVector v = FloatVector.fromArray(SPECIES, x, xo + j);
            a00 = u0.fma(v, a00); a01 = u1.fma(v, a01); a02 = u2.fma(v, a02); a03 = u3.fma(v, a03);
            v = FloatVector.fromArray(SPECIES, x, xo + in + j);
            a10 = u0.fma(v, a10); a11 = u1.fma(v, a11); a12 = u2.fma(v, a12); a13 = u3.fma(v, a13);
        }
        store(a00, a01, a02, a03, w, wo, x, xo, j, in, y, yo);
        store(a10, a11, a12, a13, w, wo, x, xo + in, j, in, y, yo + out);
    }

    /** y[yo + t] = the sum of a_t plus the scalar tail of feature t (W row wo / in + t) and x row xo. */
    private static void store(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3,
            float[] w, int wo, float[] x, int xo, int j, int in, float[] y, int yo) {
        y[yo] = a0.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
        y[yo + 1] = a1.reduceLanes(VectorOperators.ADD) + tail(w, wo + in, x, xo, j, in);
        y[yo + 2] = a2.reduceLanes(VectorOperators.ADD) + tail(w, wo + 2 * in, x, xo, j, in);
        y[yo + 3] = a3.reduceLanes(VectorOperators.ADD) + tail(w, wo + 3 * in, x, xo, j, in);
    }

    /** W[o] . x[r], both from float offsets. */
    private static float dot(ByteBuffer w, int wo, float[] x, int xo, int in) {
        FloatVector acc = FloatVector.zero(SPECIES), acc2 = acc;
        int j = 0;
        for (int pairs = in & -(2 * LANES); j < pairs; j += 2 * LANES) {
            acc = FloatVector.fromByteBuffer(SPECIES, w, (wo + j) * Float.BYTES, ORDER)
                    .fma(FloatVector.fromArray(SPECIES, x, xo + j), acc);
            acc2 = FloatVector.fromByteBuffer(SPECIES, w, (wo + j + LANES) * Float.BYTES, ORDER)
                    .fma(FloatVector.fromArray(SPECIES, x, xo + j + LANES), acc2);
        }
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            acc = FloatVector.fromByteBuffer(SPECIES, w, (wo + j) * Float.BYTES, ORDER)
                    .fma(FloatVector.fromArray(SPECIES, x, xo + j), acc);
        }
        return acc.add(acc2).reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
    }

    /** {@link #dot} on a block of weights in an array. */
    private static float dot(float[] w, int wo, float[] x, int xo, int in) {
        FloatVector acc = FloatVector.zero(SPECIES);
        int j = 0;
        for (int whole = SPECIES.loopBound(in); j < whole; j += LANES) {
            acc = FloatVector.fromArray(SPECIES, w, wo + j).fma(FloatVector.fromArray(SPECIES, x, xo + j), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD) + tail(w, wo, x, xo, j, in);
    }

    /** sum over k in [j, in) of W[wo + k] x[xo + k]: features that are not a multiple of the vector width. */
    private static float tail(ByteBuffer w, int wo, float[] x, int xo, int j, int in) {
        float s = 0f;
        for (; j < in; j++) {
            s += w.getFloat((wo + j) * Float.BYTES) * x[xo + j];
        }
        return s;
    }

    /** {@link #tail} on a block of weights in an array. */
    private static float tail(float[] w, int wo, float[] x, int xo, int j, int in) {
        float s = 0f;
        for (; j < in; j++) {
            s += w[wo + j] * x[xo + j];
        }
        return s;
    }
}
