package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.SharedData;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * All 512 logits at the first generated position of each reference prompt against llama2.c's
 * run.c ({@code reference.json}'s {@code first_logits}, float32, printed with 9 significant
 * digits; its notes measure run.c within 4e-5 of a float64 forward), on each path that computes
 * them: the tensor forward, {@link CpuDecodeKernel#prefill} of the whole prompt (on packed weights
 * where the JVM has 16-float vectors, as {@code BatchDecoder} runs it), and
 * {@link CpuDecodeKernel#step} for the last prompt token after the others were prefilled.
 */
class Stories260kLogitsTest {

    /** Absolute, per logit; the logits reach about 18 and the paths are seen within 1.6e-5 of run.c. */
    private static final double TOLERANCE = 1e-4;

    @Test
    void firstPositionLogitsMatchRunC() throws Exception {
        Path dir = SharedData.model("stories260k");
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
                CpuDecodeKernel kernel = new CpuDecodeKernel(model)) {
            int vocab = model.config().vocabSize();
            assertEquals(512, vocab);
            kernel.packWeights(); // as BatchDecoder does: packed where the JVM has 16-float vectors
            System.out.println("kernel products on packed weights: " + kernel.prefills());
            int prompts = 0;
            for (JsonNode p : ref.get("prompts")) {
                prompts++;
                int[] ids = new int[p.get("input_ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = p.get("input_ids").get(i).asInt();
                }
                JsonNode all = p.get("first_logits");
                assertEquals(vocab, all.size(), "reference logits");
                float[] expected = new float[vocab];
                for (int i = 0; i < vocab; i++) {
                    expected[i] = (float) all.get(i).asDouble();
                }
                for (JsonNode top : p.get("first_logits_top5")) { // the reference agrees with itself
                    assertEquals(top.get(1).asDouble(), expected[top.get(0).asInt()], 1e-6);
                }
                String prompt = "'" + p.get("prompt").asText() + "'";

                float[] tensor;
                try (NDManager m = model.manager().newSubManager()) {
                    NDArray tokens = model.tokens(m, List.of(ids), ids.length, 0);
                    Step step = Step.uncached(m, model, 1, ids.length);
                    NDArray hidden = model.hidden(tokens, step);
                    tensor = model.logitsAt(hidden, step, new int[] {ids.length - 1}).toFloatArray();
                }
                assertAllClose(expected, tensor, prompt + ", tensor forward");

                try (KvCache cache = new KvCache(model.manager(), model.config(), 1, 64, model.dataType())) {
                    assertAllClose(expected, kernel.prefill(cache, 0, ids), prompt + ", kernel prefill");
                }

                try (KvCache cache = new KvCache(model.manager(), model.config(), 1, 64, model.dataType())) {
                    int[] head = Arrays.copyOf(ids, ids.length - 1);
                    if (head.length > 0) {
                        kernel.prefill(cache, 0, head);
                        cache.setLength(0, head.length);
                    }
                    float[] step = kernel.step(cache, new int[] {ids[ids.length - 1]}, 1);
                    assertAllClose(expected, step, prompt + ", kernel step after a prefill of " + head.length);
                }
            }
            assertEquals(4, prompts);
        }
    }

    private static void assertAllClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": logits");
        double maxDiff = 0;
        int worst = -1;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            if (!(diff <= maxDiff)) { // NaN counts as worst
                maxDiff = diff;
                worst = i;
            }
        }
        System.out.println(what + ": max |logit - run.c| " + maxDiff + " (token " + worst + ")");
        assertTrue(maxDiff < TOLERANCE, what + ": logit of token " + worst + " is " + actual[Math.max(worst, 0)]
                + ", run.c's " + expected[Math.max(worst, 0)] + " (max |diff| " + maxDiff + ")");
    }
}
