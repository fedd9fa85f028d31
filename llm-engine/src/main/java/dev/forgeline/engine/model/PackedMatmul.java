package dev.forgeline.engine.model;

import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * y (n, out) = x (n, in) W^T for a {@link PackedWeight}, on the JDK's Vector API, the blocks of
 * six tiles (96 output features) split between the team's threads.
 *
 * <p>Each step of a kernel loads one input's weights for the six tiles and multiplies each by that
 * input of up to four rows, broadcast: the accumulators hold output features, so a row's results
 * are stored as they are. {@link SimdMatmul}'s kernels, on W's own layout, hold inputs in their
 * lanes and end each output with a sum across 16 lanes, which on JDK 17 adds the lanes one after
 * the other.
 *
 * <p>Six tiles, because the product is bound by how fast one core pulls weights from memory, and
 * that grows with the number of streams it reads at once: each tile is one. Eight rows read a
 * block twice, the second time from cache. One row runs here too once the weight is packed, being
 * faster than {@link SimdMatmul} on W's own layout. Measurements: docs/performance.md.
 *
 * <p>Needs {@code --add-modules jdk.incubator.vector}, like {@link SimdMatmul}. Not thread-safe:
 * one caller at a time.
 */
final class PackedMatmul {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_512;
    private static final int TILE = PackedWeight.TILE;
    private static final int BLOCK = PackedWeight.BLOCK;

    private final ThreadTeam team;
    private final IntConsumer partTask = this::part;
    private final float[][] lastBlock; // per part, outputs of a block that runs past out
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
        this.lastBlock = new float[team.size()][0];
    }

    /** y[0, n * out) = x (n, in) W^T. */
    void multiply(PackedWeight weight, float[] x, int n, float[] y) {
        this.w = weight;
        this.x = x;
        this.n = n;
        this.y = y;
        team.run(partTask);
    }

    /** Blocks of part p, all rows of one block before the next: the block stays in cache while they read it. */
    private void part(int p) {
        int parts = team.size();
        int blocks = w.blocks();
        int in = w.in;
        int out = w.out;
        for (int block = p * blocks / parts, end = (p + 1) * blocks / parts; block < end; block++) {
            int f = block * BLOCK;
            int wo = f * in;
            boolean whole = f + BLOCK <= out;
            if (!whole && lastBlock[p].length < n * BLOCK) {
                lastBlock[p] = new float[n * BLOCK];
            }
            float[] dst = whole ? y : lastBlock[p]; // a block past out must not write into the next row
            int stride = whole ? out : BLOCK;
            int at = whole ? f : 0;
            for (int r = 0; r < n; ) {
                int rows = n - r >= 4 ? 4 : n - r >= 2 ? 2 : 1;
                if (rows == 4) {
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
                    System.arraycopy(lastBlock[p], r * BLOCK, y, r * out + f, out - f);
                }
            }
        }
    }

    /*
     * One method per row count, written out: the accumulators must stay in registers, and a
     * vector kept in an array (or handed to a call that is not inlined) is boxed on the heap,
     * which makes the kernel several times slower.
     * Each reads the block at wo, tile t of input j at wo + t * TILE * in + TILE * j.
     */
    private static void fourRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0; // row 0, tiles 0-5
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
        FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0;
        FloatVector d0 = a0, d1 = a0, d2 = a0, d3 = a0, d4 = a0, d5 = a0;
        int t = TILE * in;
        for (int j = 0; j < in; j++) {
            int o = wo + TILE * j;
            FloatVector xa = FloatVector.broadcast(SPECIES, x[xo + j]);
            FloatVector xb = FloatVector.broadcast(SPECIES, x[xo + in + j]);
            FloatVector xc = FloatVector.broadcast(SPECIES, x[xo + 2 * in + j]);
            FloatVector xd = FloatVector.broadcast(SPECIES, x[xo + 3 * in + j]);
            FloatVector u = FloatVector.fromArray(SPECIES, w, o);
            a0 = u.fma(xa, a0); b0 = u.fma(xb, b0); c0 = u.fma(xc, c0); d0 = u.fma(xd, d0);
            u = FloatVector.fromArray(SPECIES, w, o + t);
            a1 = u.fma(xa, a1); b1 = u.fma(xb, b1); c1 = u.fma(xc, c1); d1 = u.fma(xd, d1);
            u = FloatVector.fromArray(SPECIES, w, o + 2 * t);
            a2 = u.fma(xa, a2); b2 = u.fma(xb, b2); c2 = u.fma(xc, c2); d2 = u.fma(xd, d2);
            u = FloatVector.fromArray(SPECIES, w, o + 3 * t);
            a3 = u.fma(xa, a3); b3 = u.fma(xb, b3); c3 = u.fma(xc, c3); d3 = u.fma(xd, d3);
            u = FloatVector.fromArray(SPECIES, w, o + 4 * t);
            a4 = u.fma(xa, a4); b4 = u.fma(xb, b4); c4 = u.fma(xc, c4); d4 = u.fma(xd, d4);
            u = FloatVector.fromArray(SPECIES, w, o + 5 * t);
            a5 = u.fma(xa, a5); b5 = u.fma(xb, b5); c5 = u.fma(xc, c5); d5 = u.fma(xd, d5);
        }
        a0.intoArray(y, yo); a1.intoArray(y, yo + TILE); a2.intoArray(y, yo + 2 * TILE);
        a3.intoArray(y, yo + 3 * TILE); a4.intoArray(y, yo + 4 * TILE); a5.intoArray(y, yo + 5 * TILE);
        b0.intoArray(y, yo + out); b1.intoArray(y, yo + out + TILE); b2.intoArray(y, yo + out + 2 * TILE);
        b3.intoArray(y, yo + out + 3 * TILE); b4.intoArray(y, yo + out + 4 * TILE); b5.intoArray(y, yo + out + 5 * TILE);
        c0.intoArray(y, yo + 2 * out); c1.intoArray(y, yo + 2 * out + TILE); c2.intoArray(y, yo + 2 * out + 2 * TILE);
        c3.intoArray(y, yo + 2 * out + 3 * TILE); c4.intoArray(y, yo + 2 * out + 4 * TILE); c5.intoArray(y, yo + 2 * out + 5 * TILE);
        d0.intoArray(y, yo + 3 * out); d1.intoArray(y, yo + 3 * out + TILE); d2.intoArray(y, yo + 3 * out + 2 * TILE);
        d3.intoArray(y, yo + 3 * out + 3 * TILE); d4.intoArray(y, yo + 3 * out + 4 * TILE); d5.intoArray(y, yo + 3 * out + 5 * TILE);
    }

    private static void twoRows(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo, int out) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
        int t = TILE * in;
        for (int j = 0; j < in; j++) {
            int o = wo + TILE * j;
            FloatVector xa = FloatVector.broadcast(SPECIES, x[xo + j]);
            FloatVector xb = FloatVector.broadcast(SPECIES, x[xo + in + j]);
            FloatVector u = FloatVector.fromArray(SPECIES, w, o);
            a0 = u.fma(xa, a0); b0 = u.fma(xb, b0);
            u = FloatVector.fromArray(SPECIES, w, o + t);
            a1 = u.fma(xa, a1); b1 = u.fma(xb, b1);
            u = FloatVector.fromArray(SPECIES, w, o + 2 * t);
            a2 = u.fma(xa, a2); b2 = u.fma(xb, b2);
            u = FloatVector.fromArray(SPECIES, w, o + 3 * t);
            a3 = u.fma(xa, a3); b3 = u.fma(xb, b3);
            u = FloatVector.fromArray(SPECIES, w, o + 4 * t);
            a4 = u.fma(xa, a4); b4 = u.fma(xb, b4);
            u = FloatVector.fromArray(SPECIES, w, o + 5 * t);
            a5 = u.fma(xa, a5); b5 = u.fma(xb, b5);
        }
        a0.intoArray(y, yo); a1.intoArray(y, yo + TILE); a2.intoArray(y, yo + 2 * TILE);
        a3.intoArray(y, yo + 3 * TILE); a4.intoArray(y, yo + 4 * TILE); a5.intoArray(y, yo + 5 * TILE);
        b0.intoArray(y, yo + out); b1.intoArray(y, yo + out + TILE); b2.intoArray(y, yo + out + 2 * TILE);
        b3.intoArray(y, yo + out + 3 * TILE); b4.intoArray(y, yo + out + 4 * TILE); b5.intoArray(y, yo + out + 5 * TILE);
    }

    private static void oneRow(float[] w, int wo, float[] x, int xo, int in, float[] y, int yo) {
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        int t = TILE * in;
        for (int j = 0; j < in; j++) {
            int o = wo + TILE * j;
            FloatVector xa = FloatVector.broadcast(SPECIES, x[xo + j]);
            a0 = FloatVector.fromArray(SPECIES, w, o).fma(xa, a0);
            a1 = FloatVector.fromArray(SPECIES, w, o + t).fma(xa, a1);
            a2 = FloatVector.fromArray(SPECIES, w, o + 2 * t).fma(xa, a2);
            a3 = FloatVector.fromArray(SPECIES, w, o + 3 * t).fma(xa, a3);
            a4 = FloatVector.fromArray(SPECIES, w, o + 4 * t).fma(xa, a4);
            a5 = FloatVector.fromArray(SPECIES, w, o + 5 * t).fma(xa, a5);
        }
        a0.intoArray(y, yo); a1.intoArray(y, yo + TILE); a2.intoArray(y, yo + 2 * TILE);
        a3.intoArray(y, yo + 3 * TILE); a4.intoArray(y, yo + 4 * TILE); a5.intoArray(y, yo + 5 * TILE);
    }
}
