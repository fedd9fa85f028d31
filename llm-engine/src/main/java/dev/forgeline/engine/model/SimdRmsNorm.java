package dev.forgeline.engine.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link CpuDecodeKernel}'s RMSNorm of one row on the Vector API: the squares and the scaling a
 * vector at a time, where the scalar loop reads the weight a float at a time through its buffer.
 */
final class SimdRmsNorm {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private SimdRmsNorm() {}

    /** out[o, o + width) = w * x / sqrt(mean(x^2) + eps) for the row x[o, o + width); w is float32 in {@code weight}. */
    static void apply(float[] x, int o, int width, ByteBuffer weight, float eps, float[] out) {
        int whole = SPECIES.loopBound(width);
        FloatVector squares = FloatVector.zero(SPECIES);
        for (int i = 0; i < whole; i += LANES) {
            FloatVector v = FloatVector.fromArray(SPECIES, x, o + i);
            squares = v.fma(v, squares);
        }
        float sum = squares.reduceLanes(VectorOperators.ADD);
        for (int i = whole; i < width; i++) {
            sum += x[o + i] * x[o + i];
        }
        float rms = (float) Math.sqrt(sum / width + eps);
        for (int i = 0; i < whole; i += LANES) {
            FloatVector w = FloatVector.fromByteBuffer(SPECIES, weight, i * Float.BYTES, ORDER);
            FloatVector.fromArray(SPECIES, x, o + i).div(rms).mul(w).intoArray(out, o + i);
        }
        for (int i = whole; i < width; i++) {
            out[o + i] = x[o + i] / rms * weight.getFloat(i * Float.BYTES);
        }
    }
}
