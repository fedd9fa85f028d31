package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The few hot-path calls that go to DJL's PyTorch bindings directly. DJL's generic
 * {@code get(NDIndex)} adds a shape query and a reshape to every slice, and {@code split} asks
 * for the shape first; per layer and token that is several extra native round trips, each
 * costing about as much as a small matmul. Other engines take the public API.
 */
final class Torch {

    private Torch() {}

    /** a[min[0]:max[0], min[1]:max[1], ...] as a view owned by {@code manager}. */
    static NDArray slice(NDArray a, NDManager manager, long[] min, long[] max) {
        long[] step = new long[min.length];
        java.util.Arrays.fill(step, 1);
        if (a instanceof PtNDArray pt && manager instanceof PtNDManager pm) {
            return JniUtils.index(pt, min, max, step, pm);
        }
        NDIndex index = new NDIndex();
        for (int i = 0; i < min.length; i++) {
            index.addSliceDim(min[i], max[i]);
        }
        return a.get(manager, index);
    }

    /** Splits {@code a} along {@code axis} into pieces of the given sizes (views). */
    static NDList split(NDArray a, long[] sizes, int axis) {
        if (a instanceof PtNDArray pt) {
            return JniUtils.split(pt, sizes, axis);
        }
        long[] at = new long[sizes.length - 1];
        long sum = 0;
        for (int i = 0; i < at.length; i++) {
            sum += sizes[i];
            at[i] = sum;
        }
        return a.split(at, axis);
    }
}
