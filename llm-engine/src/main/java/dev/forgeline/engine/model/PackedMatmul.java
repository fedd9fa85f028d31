package dev.forgeline.engine.model;

import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * y (n, out) = x (n, in) W^T for a {@link PackedWeight}, on the JDK's Vector API, the pairs of
 * tiles (32 output features) split between the team's threads.
 *
 * <p>Each step of a kernel loads one input's weights for 32 features (two vectors) and multiplies
 * them by that input of up to eight rows, broadcast: the accumulators hold output features, so a
 * row's 32 results are stored as they are. {@link SimdMatmul}'s kernels, on W's own layout, hold
 * inputs in their lanes and end each output with a sum across 16 lanes, which on JDK 17 adds the
 * lanes one after the other: a third of their instructions at eight rows. Products of the 135M
 * shape at eight rows took 16.0-16.8 ms this way against 25.2-26.1 (one JVM, two runs), at sixteen
 * 22.0 against 35.3. Eight rows also stream the weights from memory without stalling, which
 * {@link SimdMatmul}'s many-row kernels did not: there each block is copied to cache first. One
 * row is slower here (12.4-13.4 against 11.5-12.1 ms), so it stays on {@link SimdMatmul}.
 *
 * <p>Needs {@code --add-modules jdk.incubator.vector}, like {@link SimdMatmul}. Not thread-safe:
 * one caller at a time.
 */
final class PackedMatmul {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_512;
    private static final int TILE = PackedWeight.TILE;
    private static final int PAIR = PackedWeight.PAIR;

    private final ThreadTeam team;
    private final IntConsumer partTask = this::part;
    private final float[][] lastPair; // per part, outputs of a pair that runs past out
    // The product at hand; the team's start of a task publishes them to its workers.
    private PackedWeight w;
    private float[] x;
    private int n;
    private float[] y;

    /** Whether the JVM's vectors hold a tile: the layout is made for 16 floats (AVX-512). */
    static boolean pays() {
        return FloatVector.SPECIES_PREFERRED.length() == TILE;
    }

    PackedMatmul(ThreadTeam team) {
        this.team = team;
        this.lastPair = new float[team.size()][0];
    }

    /** y[0, n * out) = x (n, in) W^T. */
    void multiply(PackedWeight weight, float[] x, int n, float[] y) {
        this.w = weight;
        this.x = x;
        this.n = n;
        this.y = y;
        team.run(partTask);
    }

    /** Pairs of tiles of part p, all rows of one pair before the next: the pair stays in cache while they read it. */
    private void part(int p) {
        int parts = team.size();
        int pairs = w.pairs();
        int in = w.in;
        int out = w.out;
        for (int pair = p * pairs / parts, end = (p + 1) * pairs / parts; pair < end; pair++) {
            int f = pair * PAIR;
            int wo = f * in;
            boolean whole = f + PAIR <= out;
            if (!whole && lastPair[p].length < n * PAIR) {
                lastPair[p] = new float[n * PAIR];
            }
            float[] dst = whole ? y : lastPair[p]; // a pair past out must not write into the next row
            int stride = whole ? out : PAIR;
            int at = whole ? f : 0;
            for (int r = 0; r < n; ) {
                int rows = n - r >= 8 ? 8 : n - r >= 4 ? 4 : n - r >= 2 ? 2 : 1;
                if (rows == 8) {
                    eightRows(w.tiles, wo, x, r * in, in, dst, at + r * stride, stride);
                } else if (rows == 4) {
                    fourRows(w.tiles, wo, x, r * in, in, dst, at + r * stride, stride);
                } else if (rows == 2) {
                    twoRows(w.tiles, wo, x, r * in, in, dst, at + r * stride, stride);
                } else {
                    oneRow(w.tiles, wo, x, r * in, in, dst, at + r * stride);
                }
                r += rows;
            }
            if (!whole) {
                for (int r = 0; r < n; r++) {
                    System.arraycopy(lastPair[p], r * PAIR, y, r * out + f, out - f);
                }
            }
        }
    }

    /*
     * One method per row count, written out: the accumulators must stay in registers, and a
     * vector kept in an array (or handed to a call that is not inlined) is boxed on the heap.
     * Each reads the pair at wo: tile 0 at wo + 16j, tile 1 at wo + 16 (in + j), for input j.
     */
    private static void eightRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        int second = wo + TILE * in;
        for (int j = 0; j < in; j++) {
            FloatVector u = FloatVector.fromArray(SPECIES, w, wo + TILE * j);
            FloatVector v = FloatVector.fromArray(SPECIES, w, second + TILE * j);
            FloatVector s = FloatVector.broadcast(SPECIES, x[xo + j]);
            a0 = u.fma(s, a0); b0 = v.fma(s, b0);
            s = FloatVector.broadcast(SPECIES, x[xo + in + j]);
            a1 = u.fma(s, a1); b1 = v.fma(s, b1);
            s = FloatVector.broadcast(SPECIES, x[xo + 2 * in + j]);
            a2 = u.fma(s, a2); b2 = v.fma(s, b2);
            s = FloatVector.broadcast(SPECIES, x[xo + 3 * in + j]);
            a3 = u.fma(s, a3); b3 = v.fma(s, b3);
            s = FloatVector.broadcast(SPECIES, x[xo + 4 * in + j]);
            a4 = u.fma(s, a4); b4 = v.fma(s, b4);
            s = FloatVector.broadcast(SPECIES, x[xo + 5 * in + j]);
            a5 = u.fma(s, a5); b5 = v.fma(s, b5);
            s = FloatVector.broadcast(SPECIES, x[xo + 6 * in + j]);
            a6 = u.fma(s, a6); b6 = v.fma(s, b6);
            s = FloatVector.broadcast(SPECIES, x[xo + 7 * in + j]);
            a7 = u.fma(s, a7); b7 = v.fma(s, b7);
        }
        a0.intoArray(y, yo); b0.intoArray(y, yo + TILE);
        a1.intoArray(y, yo + out); b1.intoArray(y, yo + out + TILE);
        a2.intoArray(y, yo + 2 * out); b2.intoArray(y, yo + 2 * out + TILE);
        a3.intoArray(y, yo + 3 * out); b3.intoArray(y, yo + 3 * out + TILE);
        a4.intoArray(y, yo + 4 * out); b4.intoArray(y, yo + 4 * out + TILE);
        a5.intoArray(y, yo + 5 * out); b5.intoArray(y, yo + 5 * out + TILE);
        a6.intoArray(y, yo + 6 * out); b6.intoArray(y, yo + 6 * out + TILE);
        a7.intoArray(y, yo + 7 * out); b7.intoArray(y, yo + 7 * out + TILE);
    }

    private static void fourRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int second = wo + TILE * in;
        for (int j = 0; j < in; j++) {
            FloatVector u = FloatVector.fromArray(SPECIES, w, wo + TILE * j);
            FloatVector v = FloatVector.fromArray(SPECIES, w, second + TILE * j);
            FloatVector s = FloatVector.broadcast(SPECIES, x[xo + j]);
            a0 = u.fma(s, a0); b0 = v.fma(s, b0);
            s = FloatVector.broadcast(SPECIES, x[xo + in + j]);
            a1 = u.fma(s, a1); b1 = v.fma(s, b1);
            s = FloatVector.broadcast(SPECIES, x[xo + 2 * in + j]);
            a2 = u.fma(s, a2); b2 = v.fma(s, b2);
            s = FloatVector.broadcast(SPECIES, x[xo + 3 * in + j]);
            a3 = u.fma(s, a3); b3 = v.fma(s, b3);
        }
        a0.intoArray(y, yo); b0.intoArray(y, yo + TILE);
        a1.intoArray(y, yo + out); b1.intoArray(y, yo + out + TILE);
        a2.intoArray(y, yo + 2 * out); b2.intoArray(y, yo + 2 * out + TILE);
        a3.intoArray(y, yo + 3 * out); b3.intoArray(y, yo + 3 * out + TILE);
    }

    private static void twoRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, b0 = a0, b1 = a0;
        int second = wo + TILE * in;
        for (int j = 0; j < in; j++) {
            FloatVector u = FloatVector.fromArray(SPECIES, w, wo + TILE * j);
            FloatVector v = FloatVector.fromArray(SPECIES, w, second + TILE * j);
            FloatVector s = FloatVector.broadcast(SPECIES, x[xo + j]);
            a0 = u.fma(s, a0); b0 = v.fma(s, b0);
            s = FloatVector.broadcast(SPECIES, x[xo + in + j]);
            a1 = u.fma(s, a1); b1 = v.fma(s, b1);
        }
        a0.intoArray(y, yo); b0.intoArray(y, yo + TILE);
        a1.intoArray(y, yo + out); b1.intoArray(y, yo + out + TILE);
    }

    private static void oneRow(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, b0 = a0, b1 = a0; // two sums per tile: even and odd inputs
        int second = wo + TILE * in;
        int j = 0;
        for (; j + 2 <= in; j += 2) {
            FloatVector s = FloatVector.broadcast(SPECIES, x[xo + j]);
            FloatVector t = FloatVector.broadcast(SPECIES, x[xo + j + 1]);
            a0 = FloatVector.fromArray(SPECIES, w, wo + TILE * j).fma(s, a0);
            b0 = FloatVector.fromArray(SPECIES, w, second + TILE * j).fma(s, b0);
            a1 = FloatVector.fromArray(SPECIES, w, wo + TILE * (j + 1)).fma(t, a1);
            b1 = FloatVector.fromArray(SPECIES, w, second + TILE * (j + 1)).fma(t, b1);
        }
        if (j < in) {
            FloatVector s = FloatVector.broadcast(SPECIES, x[xo + j]);
            a0 = FloatVector.fromArray(SPECIES, w, wo + TILE * j).fma(s, a0);
            b0 = FloatVector.fromArray(SPECIES, w, second + TILE * j).fma(s, b0);
        }
        a0.add(a1).intoArray(y, yo);
        b0.add(b1).intoArray(y, yo + TILE);
    }
}
