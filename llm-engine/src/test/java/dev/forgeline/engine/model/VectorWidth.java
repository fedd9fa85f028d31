package dev.forgeline.engine.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Assumptions;

/**
 * The kernel tests' view of this JVM's vectors. The packed products ({@link PackedMatmul}, and the
 * kernel's prefill and batched steps on them) need vectors of 16 floats (AVX-512); where the JVM
 * has narrower ones a test of them is skipped, visibly: the skip's message (in the test report)
 * and a line on stdout name the width the JVM has.
 */
final class VectorWidth {

    private VectorWidth() {}

    /** Floats in the Vector API's preferred species here: 16 with AVX-512, 8 with AVX2. */
    static int floats() {
        return FloatVector.SPECIES_PREFERRED.length();
    }

    /** Skips the calling test, saying why, unless this JVM's vectors hold 16 floats. */
    static void assumeSixteenFloats(String test) {
        if (PackedMatmul.pays()) {
            return;
        }
        int floats = floats();
        String why = test + " skipped: it needs vectors of 16 floats (512 bits, AVX-512) and this JVM's preferred "
                + "float vector holds " + floats + " (" + floats * Float.SIZE + " bits)"
                + (cpuHasAvx512() ? "; the CPU has avx512f, so the JVM was held back (-XX:UseAVX, -XX:MaxVectorSize)" : "");
        System.out.println(why);
        Assumptions.abort(why);
    }

    private static boolean cpuHasAvx512() {
        try {
            return Files.readString(Path.of("/proc/cpuinfo")).contains(" avx512f");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
