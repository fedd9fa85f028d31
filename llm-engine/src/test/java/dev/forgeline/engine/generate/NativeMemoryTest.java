package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.engine.model.CpuDecodeKernel;
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
 * less than 50 MB, on both decode paths of a float32 CPU model: {@link CpuDecodeKernel}'s (one
 * sequence) and the model's tensor forward (a batch with an unmerged adapter, which the kernel leaves, kept
 * full by replacing finished sequences). Measured in a child JVM whose heap is fixed and
 * pre-touched, so the number is native memory and not the test JVM's heap sizing.
 */
class NativeMemoryTest {

    private static final Pattern RESULT = Pattern.compile("path=(\\w+) rows=(\\d+) .*tokens=(\\d+) measuredSteps=(\\d+) growthKb=(-?\\d+)");

    @Test
    void twoThousandKernelDecodeStepsKeepResidentMemoryFlat(@TempDir Path dir) throws Exception {
        int steps = 2100; // 100 warm-up steps, then 2,000 measured
        Matcher m = probe(dir, steps, "kernel");
        assertEquals(1, Integer.parseInt(m.group(2)));
        assertEquals(steps + 1, Integer.parseInt(m.group(3)));
        assertGrowthBelow50Mb(m, "kernel");
    }

    /** A model with an unmerged adapter takes the tensor forward: since the kernel took over float32 CPU models, only this test measures it. */
    @Test
    void twoThousandTensorDecodeStepsKeepResidentMemoryFlat(@TempDir Path dir) throws Exception {
        Matcher m = probe(dir, 2000, "tensor"); // 300 warm-up steps, then 2,000 measured
        int rows = Integer.parseInt(m.group(2));
        assertEquals((NativeMemoryProbe.TENSOR_WARM_UP_STEPS + 2000L) * rows, Long.parseLong(m.group(3)), "every step decodes all rows");
        assertGrowthBelow50Mb(m, "tensor");
    }

    private static Matcher probe(Path dir, int steps, String path) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Xms96m", "-Xmx96m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC",
                        "--add-modules", "jdk.incubator.vector", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-cp", System.getProperty("java.class.path"),
                        NativeMemoryProbe.class.getName(), dir.toString(), String.valueOf(steps), path))
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
        Matcher m = RESULT.matcher(out);
        assertTrue(m.find(), out.toString());
        assertEquals(path, m.group(1));
        return m;
    }

    private static void assertGrowthBelow50Mb(Matcher m, String path) {
        assertEquals(2000, Integer.parseInt(m.group(4)));
        long growthKb = Long.parseLong(m.group(5));
        System.out.println("RSS growth over 2000 decode steps (" + path + " path, " + m.group(2) + " rows): " + growthKb + " kB");
        assertTrue(growthKb < 50 * 1024, path + " path: resident memory grew by " + growthKb + " kB");
    }
}
