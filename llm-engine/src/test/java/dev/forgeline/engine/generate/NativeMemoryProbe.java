package dev.forgeline.engine.generate;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.weights.RandomModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run in its own JVM by {@link NativeMemoryTest}, with a small pre-touched heap so the Java heap
 * cannot grow and resident-memory growth is native memory. Prints one line: tokens and growth.
 */
public final class NativeMemoryProbe {

    static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]);
        ModelConfig config = ModelConfig.builder("llama").hiddenSize(64).intermediateSize(128).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(steps + 100)
                .tieWordEmbeddings(true).build();
        RandomModel.write(dir, config, 5);
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
            SamplingParams params = SamplingParams.builder().temperature(0.8).topP(0.95).seed(1L)
                    .repetitionPenalty(1.1).maxTokens(steps + 1).build();
            new Generator(model).generate(new int[] {1, 5, 9}, params.toBuilder().maxTokens(300).build()); // warm-up
            long[] warm = new long[1];
            int[] count = new int[1];
            Generation g = new Generator(model).generate(new int[] {1, 5, 9}, params, null, (id, text, logprobs) -> {
                if (++count[0] == 101) { // first token comes from the prefill; then 100 decode steps of warm-up
                    warm[0] = residentKb();
                }
            });
            long growth = residentKb() - warm[0];
            System.out.println("tokens=" + g.tokens().length + " measuredSteps=" + (count[0] - 101) + " growthKb=" + growth);
        }
    }
}
