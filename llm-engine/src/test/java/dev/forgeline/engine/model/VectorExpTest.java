package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

/** {@link VectorExp} against Math.exp in float64, over the whole range a float's exp is normal in, and at its ends. */
class VectorExpTest {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private static float[] exp(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += SPECIES.length()) {
            VectorExp.exp(FloatVector.fromArray(SPECIES, x, i)).intoArray(y, i);
        }
        return y;
    }

    @Test
    void relativeErrorIsUnderTwoInTenMillionFromMinus87To88() {
        int count = SPECIES.length() * 200_000;
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = -87.3f + (88f + 87.3f) * i / (count - 1);
        }
        float[] y = exp(x);
        double worst = 0;
        for (int i = 0; i < count; i++) {
            double expected = Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - expected) / expected);
        }
        assertEquals(0, worst, 2e-7, "worst relative error");
    }

    @Test
    void isExactWhereTheSeriesIsAndZeroBelowTheNormalFloats() {
        float[] x = new float[SPECIES.length()];
        float[] special = {0f, 1f, -1f, -87.31f, -100f, -1e30f, Float.NEGATIVE_INFINITY, 88f};
        System.arraycopy(special, 0, x, 0, Math.min(special.length, x.length));
        float[] y = exp(x);
        assertEquals(1f, y[0], "exp(0)");
        assertEquals(Math.E, y[1], 2e-7 * Math.E, "exp(1)");
        assertEquals(1 / Math.E, y[2], 2e-7 / Math.E, "exp(-1)");
        if (x.length >= 8) {
            assertEquals(0f, y[3], "below the normal floats");
            assertEquals(0f, y[4]);
            assertEquals(0f, y[5]);
            assertEquals(0f, y[6], "exp(-inf), as a masked attention score");
            assertEquals(Math.exp(88), y[7], 2e-7 * Math.exp(88), "exp(88)");
        }
    }
}
