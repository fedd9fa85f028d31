package dev.forgeline.eval;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AccuracyTest {

    @Test
    void stderrIsTheSampleStandardErrorOfTheMean() {
        // p = 0.25, n = 5: sqrt(0.25 * 0.75 / 4)
        assertEquals(Math.sqrt(0.1875 / 4), Accuracy.stderr(0.25, 5), 1e-15);
        assertTrue(Double.isNaN(Accuracy.stderr(1, 1)));
    }

    @Test
    void microPoolsItemsAndMacroAveragesSubjects() {
        Map<String, boolean[]> m = new LinkedHashMap<>();
        m.put("a", new boolean[] {true, true, true, false}); // 3/4
        m.put("b", new boolean[] {false, false}); // 0/2
        Accuracy.Summary s = Accuracy.of(m);
        assertEquals(0.5, s.micro().accuracy(), 1e-15);
        assertEquals(6, s.micro().n());
        assertEquals(Math.sqrt(0.25 / 5), s.micro().stderr(), 1e-15);
        assertEquals(0.375, s.macro().accuracy(), 1e-15);
        double seA = Math.sqrt(0.75 * 0.25 / 3);
        assertEquals(Math.sqrt(seA * seA + 0) / 2, s.macro().stderr(), 1e-15);
        assertEquals(3, s.subjects().get("a").correct());
    }

    @Test
    void mcnemarExactAgainstHandComputedBinomialTails() {
        assertEquals(1.0, Accuracy.mcnemarExactP(0, 0), 0);
        assertEquals(0.0625, Accuracy.mcnemarExactP(0, 5), 1e-12); // 2 * (1/2)^5
        assertEquals(0.021484375, Accuracy.mcnemarExactP(1, 9), 1e-12); // 2 * 11/1024
        assertEquals(0.021484375, Accuracy.mcnemarExactP(9, 1), 1e-12);
        assertEquals(1.0, Accuracy.mcnemarExactP(5, 5), 1e-12);
        double large = Accuracy.mcnemarExactP(10000, 10300);
        assertTrue(large > 0 && large < 1, "no overflow: " + large);
        assertTrue(Accuracy.mcnemarExactP(10000, 11000) < 1e-10);
    }

    @Test
    void pairedBootstrapIsSeededAndContainsTheObservedDifference() {
        boolean[] a = new boolean[200];
        boolean[] b = new boolean[200];
        for (int i = 0; i < 200; i++) {
            a[i] = i % 2 == 0; // 0.50
            b[i] = i % 5 == 0; // 0.20
        }
        double[] ci = Accuracy.pairedBootstrapInterval(a, b, 1000, 7);
        assertTrue(ci[0] < 0.3 && 0.3 < ci[1], ci[0] + " .. " + ci[1]);
        assertTrue(ci[0] > 0.15 && ci[1] < 0.45, "about 0.3 +- 0.1: " + ci[0] + " .. " + ci[1]);
        assertArrayEquals(ci, Accuracy.pairedBootstrapInterval(a, b, 1000, 7));
        assertThrows(IllegalArgumentException.class, () -> Accuracy.pairedBootstrapInterval(a, new boolean[3], 10, 1));
    }
}
