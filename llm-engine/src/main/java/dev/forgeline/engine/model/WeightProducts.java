package dev.forgeline.engine.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The weight products of {@link CpuDecodeKernel}, {@code dst (n, out) = src (n, in) W^T + bias}, on
 * the fastest path a weight allows, and the policy of packing.
 *
 * <p>Dispatch: a weight packed in tiles goes to {@link PackedMatmul}; otherwise, with the Vector
 * API, {@link SimdMatmul} reads the weight where libtorch keeps it; without it, libtorch multiplies,
 * its input wrapping a direct buffer without a copy.
 *
 * <p>Packing: a copy of each layer weight laid out for {@link PackedMatmul}, kept by its
 * {@link Linear} (on the Java heap, as large as the weight), made as the model loads
 * ({@link WeightLayout#PACKED}, which frees the tensors), else by {@link #packAll} when a decoder is
 * made or on the first product of two rows or more. Not packed: weights being trained (they
 * change in place), weights without room (half the heap stays for everything else; logged once),
 * and all of them without 16-float vectors.
 */
final class WeightProducts implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WeightProducts.class);

    private final TensorMemory tensors;
    private final SimdMatmul simd; // null: no Vector API, products in libtorch
    private final PackedMatmul packed; // null: vectors too narrow, nothing is packed
    private final NDManager manager; // owns the tensors that wrap {@link #input}
    private final ByteBuffer input; // activations handed to libtorch, (rows, width)
    private final Map<Long, NDArray> inputs = new HashMap<>(); // (rows, width) -> tensor over input
    private boolean noRoomLogged;

    /** {@code team}: the Vector API's threads, or null for libtorch products; {@code floats}: the widest input. */
    WeightProducts(NDManager parent, ThreadTeam team, TensorMemory tensors, int floats) {
        this.tensors = tensors;
        this.simd = team == null ? null : new SimdMatmul(team);
        this.packed = team != null && PackedMatmul.pays() ? new PackedMatmul(team) : null;
        this.manager = parent.newSubManager();
        this.input = ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder());
    }

    /** dst (n, out) = src (n, in) W^T + bias. */
    void project(Linear linear, int n, float[] src, int in, float[] dst, int out) {
        PackedWeight tiles = packed == null ? null : n > 1 ? packed(linear, out, in) : linear.packed();
        if (tiles != null) {
            packed.multiply(tiles, src, n, dst);
        } else if (simd != null) {
            simd.multiply(tensors.bytes(linear.weight()), out, in, src, n, dst);
        } else {
            torchProduct(linear, n, src, in, dst, out);
        }
        NDArray bias = linear.bias();
        if (bias != null) {
            FloatBuffer bv = tensors.floats(bias);
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < out; j++) {
                    dst[b * out + j] += bv.get(j);
                }
            }
        }
    }

    /** Packs the four weights of every layer that may be packed. */
    void packAll(CausalLm model) {
        if (packed == null) {
            return;
        }
        for (Linear linear : layerWeights(model)) {
            packed(linear, (int) linear.outFeatures(), (int) linear.inFeatures());
        }
    }

    /** Whether every layer weight is packed. */
    boolean allPacked(CausalLm model) {
        return packed != null && layerWeights(model).stream().allMatch(l -> l.packed() != null);
    }

    private static List<Linear> layerWeights(CausalLm model) {
        return model.layers().stream().flatMap(layer -> List.of(layer.attention().qkv(), layer.attention().output(),
                layer.mlp().gateUp(), layer.mlp().down()).stream()).toList();
    }

    /** The linear's packed weight, packing it first when it may be packed; else null. */
    private PackedWeight packed(Linear linear, int out, int in) {
        PackedWeight kept = linear.packed();
        if (kept != null || linear.weight().hasGradient()) {
            return kept;
        }
        long floats = PackedWeight.floats(out, in);
        if (floats > Integer.MAX_VALUE - 8 || !PackedWeight.fits(floats * Float.BYTES)) {
            if (!noRoomLogged) {
                noRoomLogged = true;
                LOG.info("no heap room to pack a {} MB weight ({} MB free); products read it in place, slower. -Xmx sets the heap",
                        floats * Float.BYTES >> 20, PackedWeight.freeMegabytes());
            }
            return null;
        }
        return linear.keepPacked(PackedWeight.of(tensors.floats(linear.weight()), out, in));
    }

    /** dst (n, out) = src (n, in) W^T in libtorch. */
    private void torchProduct(Linear linear, int n, float[] src, int in, float[] dst, int out) {
        input.asFloatBuffer().put(src, 0, n * in);
        NDArray y = linear.timesWeight(inputTensor(n, in), n);
        try {
            FloatBuffer result = JniUtils.getByteBuffer((PtNDArray) y, true).order(ByteOrder.nativeOrder()).asFloatBuffer();
            Shape shape = n == 1 ? null : y.getShape(); // one row comes out in order either way
            if (shape == null || shape.dimension() == 2) {
                result.get(0, dst, 0, n * out);
            } else { // (blocks, n, out / blocks): block t holds output features [t * width, (t + 1) * width)
                int blocks = (int) shape.get(0);
                int width = out / blocks;
                for (int t = 0; t < blocks; t++) {
                    for (int b = 0; b < n; b++) {
                        result.get((t * n + b) * width, dst, b * out + t * width, width);
                    }
                }
            }
        } finally {
            y.close();
        }
    }

    /** A (n, width) tensor over the staging buffer. */
    private NDArray inputTensor(int n, int width) {
        return inputs.computeIfAbsent((long) n << 32 | width, key -> {
            Shape shape = new Shape(n, width);
            return JniUtils.createNdFromByteBuffer((PtNDManager) manager, input, shape, DataType.FLOAT32,
                    SparseFormat.DENSE, Device.cpu());
        });
    }

    @Override
    public void close() {
        inputs.clear();
        manager.close();
    }
}
