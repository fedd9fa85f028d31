package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Views of float32 tensors' memory, without a copy, so that Java code reads weights and the KV
 * cache (and writes the cache) where libtorch keeps them. Only for contiguous tensors (weights, norms
 * and cache arrays are), since DJL would hand back a copy of any other. Kept per tensor object: a
 * replaced tensor (a merged weight, a grown cache) is a new object and gets a new view, so writes
 * never go through a stale one. Not thread-safe: the decoder thread asks, the team only reads.
 */
final class TensorMemory {
    private final Map<NDArray, ByteBuffer> views = new IdentityHashMap<>();

    ByteBuffer bytes(NDArray array) {
        ByteBuffer m = views.get(array);
        if (m == null) {
            if (views.size() > 4096) {
                views.clear(); // views of freed tensors (caches of finished decoders) are never read again
            }
            m = memory(array);
            views.put(array, m);
        }
        return m;
    }

    /** A view of one tensor, not kept. */
    static FloatBuffer view(NDArray array) {
        return memory(array).asFloatBuffer();
    }

    private static ByteBuffer memory(NDArray array) {
        return JniUtils.getByteBuffer((PtNDArray) array, true).order(ByteOrder.nativeOrder());
    }

    FloatBuffer floats(NDArray array) {
        return bytes(array).asFloatBuffer();
    }

    void clear() {
        views.clear();
    }
}
