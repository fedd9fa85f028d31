package dev.forgeline.engine.model;

import java.nio.FloatBuffer;

/**
 * A float32 weight W (out, in) copied onto the Java heap for {@link PackedMatmul}, in tiles of 16
 * output features: tile t holds features [16t, 16t + 16) as (in, 16), so one 16-float vector is
 * one input's weights for 16 features, and x W^T needs no sums across a vector's lanes.
 *
 * <p>The tiles follow one another and are read in blocks of six (96 features), features past
 * {@code out} (up to a multiple of 96) being zero. The copy is the price: it doubles the memory of
 * the weights it packs (see {@link Linear}), unless the model was loaded with
 * {@link WeightLayout#PACKED}, which frees libtorch's copy.
 */
final class PackedWeight {

    static final int TILE = 16;
    static final int BLOCK = 6 * TILE;

    final float[] tiles; // (in, TILE) tiles, tile t at t * TILE * in
    final int out;
    final int in;

    private PackedWeight(float[] tiles, int out, int in) {
        this.tiles = tiles;
        this.out = out;
        this.in = in;
    }

    /** Floats a packed (out, in) weight takes: its blocks of tiles. */
    static long floats(long out, long in) {
        return blocks(out) * BLOCK * in;
    }

    /** Whether {@code bytes} of tiles fit on the Java heap: half of what is free stays for everything else. */
    static boolean fits(long bytes) {
        Runtime heap = Runtime.getRuntime();
        long free = heap.maxMemory() - (heap.totalMemory() - heap.freeMemory());
        return bytes <= free / 2;
    }

    /** Free Java heap in MB, for the log line that says why a weight was not packed. */
    static long freeMegabytes() {
        Runtime heap = Runtime.getRuntime();
        return (heap.maxMemory() - (heap.totalMemory() - heap.freeMemory())) >> 20;
    }

    /** Blocks of six tiles for out features, the last one padded. */
    static long blocks(long out) {
        return (out + BLOCK - 1) / BLOCK;
    }

    /** Packs W (out, in), row-major at the start of {@code weight}. */
    static PackedWeight of(FloatBuffer weight, int out, int in) {
        float[] tiles = new float[Math.toIntExact(floats(out, in))];
        float[] rows = new float[TILE * in]; // one tile's rows of W, read in bulk
        for (int f = 0; f < out; f += TILE) {
            int features = Math.min(TILE, out - f);
            weight.get(f * in, rows, 0, features * in);
            int base = f * in;
            for (int j = 0; j < in; j++) { // written in order, read across the 16 rows
                for (int l = 0; l < features; l++) {
                    tiles[base + j * TILE + l] = rows[l * in + j];
                }
            }
        }
        return new PackedWeight(tiles, out, in);
    }

    /** W's row {@code feature} (in floats), gathered from its tile: a tied head's embedding lookup. */
    void row(int feature, float[] dst, int offset) {
        int base = feature / TILE * TILE * in + feature % TILE;
        for (int j = 0; j < in; j++) {
            dst[offset + j] = tiles[base + j * TILE];
        }
    }

    /** Blocks of six tiles: 96 output features each, the last one padded. */
    int blocks() {
        return (int) blocks(out);
    }
}
