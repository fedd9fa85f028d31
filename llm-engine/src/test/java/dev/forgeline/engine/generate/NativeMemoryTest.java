package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every decode step frees what it allocated: over 2,000 decode steps resident memory grows by
 * less than 50 MB. Measured in a child JVM whose heap is fixed and pre-touched, so the number
 * is native memory and not the test JVM's heap sizing.
 */
class NativeMemoryTest {

    @Test
    void twoThousandDecodeStepsKeepResidentMemoryFlat(@TempDir Path dir) throws Exception {
        int steps = 2100; // 100 warm-up steps, then 2,000 measured
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Xms96m", "-Xmx96m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC",
                        "--add-modules", "jdk.incubator.vector", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp", System.getProperty("java.class.path"),
                        NativeMemoryProbe.class.getName(), dir.toString(), String.valueOf(steps)))
                .redirectErrorStream(true)
                .start();
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.append(line).append('\n');
            }
        }
        assertTrue(p.waitFor(5, TimeUnit.MINUTES));
        assertEquals(0, p.exitValue(), out.toString());
        Matcher m = Pattern.compile("tokens=(\\d+) measuredSteps=(\\d+) growthKb=(-?\\d+)").matcher(out);
        assertTrue(m.find(), out.toString());
        assertEquals(steps + 1, Integer.parseInt(m.group(1)));
        assertEquals(2000, Integer.parseInt(m.group(2)));
        long growthKb = Long.parseLong(m.group(3));
        System.out.println("RSS growth over 2000 decode steps: " + growthKb + " kB");
        assertTrue(growthKb < 50 * 1024, "resident memory grew by " + growthKb + " kB");
    }
}
