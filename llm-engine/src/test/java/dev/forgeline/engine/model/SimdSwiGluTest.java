package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** silu(gate) * up against float64, for widths with and without a part past the last whole vector. */
class SimdSwiGluTest {

    /** Runs at any vector width; says which one it ran at (the widths below leave a remainder at 8 and at 16 floats). */
    @BeforeAll
    static void width() {
        System.out.println("SimdSwiGluTest: vectors of " + VectorWidth.floats() + " floats");
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 16, 37, 96})
    void equalsTheFormula(int width) {
        SplittableRandom random = new SplittableRandom(width);
        int offset = 3; // rows sit at offsets in the kernel's arrays
        float[] gateUp = new float[offset + 2 * width];
        for (int i = 0; i < gateUp.length; i++) {
            gateUp[i] = (float) random.nextDouble(-6, 6);
        }
        float[] out = new float[offset + width];
        SimdSwiGlu.apply(gateUp, offset, width, out, offset);
        for (int i = 0; i < width; i++) {
            double g = gateUp[offset + i];
            double expected = g / (1 + Math.exp(-g)) * gateUp[offset + width + i];
            assertEquals(expected, out[offset + i], 1e-5 * Math.max(1, Math.abs(expected)), "feature " + i);
        }
    }
}
