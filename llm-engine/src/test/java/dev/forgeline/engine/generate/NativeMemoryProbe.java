package dev.forgeline.engine.generate;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.bench.ProcessMemory;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.CpuDecodeKernel;
import dev.forgeline.engine.model.Linear;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.weights.RandomModel;
import java.nio.file.Path;

/**
 * Run in its own JVM by {@link NativeMemoryTest}, with a small pre-touched heap so the Java heap
 * cannot grow and resident-memory growth is native memory. Prints one line: tokens and growth.
 *
 * <p>Two paths, by the third argument: {@code kernel}, one sequence of {@code steps + 1} tokens
 * (float32 on the CPU: {@link CpuDecodeKernel}'s steps); {@code tensor}, a batch of
 * {@link CpuDecodeKernel#MAX_ROWS} + 1 rows of a model with an unmerged LoRA adapter, which the
 * kernel does not take, so every prefill and step is the model's tensor forward, with finished
 * sequences replaced at once (rows moved) so that the batch stays full and the cache within its
 * first allocation.
 */
public final class NativeMemoryProbe {

    static final int WARM_UP_STEPS = 100;
    /**
     * The tensor path's resident memory still rose by some 20 MB between steps 100 and 250 (the
     * JIT and the allocator's pools), then by 10-14 MB over the next 1,750 steps and by no more
     * over 16,000: measured from step 300 on, a leak is not hidden in that start.
     */
    static final int TENSOR_WARM_UP_STEPS = 300;

    static long residentKb() {
        long bytes = ProcessMemory.resident();
        if (bytes < 0) {
            throw new IllegalStateException("no VmRSS in /proc/self/status");
        }
        return bytes >> 10;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]);
        String path = args.length > 2 ? args[2] : "kernel";
        ModelConfig config = ModelConfig.builder("llama").hiddenSize(64).intermediateSize(128).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(steps + 100)
                .tieWordEmbeddings(true).build();
        RandomModel.write(dir, config, 5);
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
            SamplingParams params = SamplingParams.builder().temperature(0.8).topP(0.95).seed(1L)
                    .repetitionPenalty(1.1).maxTokens(steps + 1).build();
            switch (path) {
                case "kernel" -> kernel(model, params, steps);
                case "tensor" -> tensor(model, params, steps);
                default -> throw new IllegalArgumentException("path " + path);
            }
        }
    }

    private static void kernel(CausalLm model, SamplingParams params, int steps) {
        new Generator(model).generate(new int[] {1, 5, 9}, params.toBuilder().maxTokens(300).build()); // warm-up
        long[] warm = new long[1];
        int[] count = new int[1];
        Generation g = new Generator(model).generate(new int[] {1, 5, 9}, params, null, (id, text, logprobs) -> {
            if (++count[0] == WARM_UP_STEPS + 1) { // first token comes from the prefill; then 100 decode steps of warm-up
                warm[0] = residentKb();
            }
        });
        long growth = residentKb() - warm[0];
        System.out.println("path=kernel rows=1 tokens=" + g.tokens().length + " measuredSteps=" + (count[0] - WARM_UP_STEPS - 1)
                + " growthKb=" + growth);
    }

    private static void tensor(CausalLm model, SamplingParams params, int steps) {
        int rows = CpuDecodeKernel.MAX_ROWS + 1;
        Linear qkv = model.projection("model.layers.0.self_attn.q_proj");
        qkv.attach("q_proj", LoraAdapter.create(model.manager(), (int) qkv.inFeatures(), (int) qkv.outFeatures("q_proj"),
                4, 8f, 0f, 1, model.dataType()));
        long warm = 0;
        int measured = 0;
        int sequences = 0;
        long tokens = 0;
        // 43 to 192 positions a sequence: the cache's first 256 positions hold them all, so it never grows
        try (BatchDecoder batch = new BatchDecoder(model, rows, 200)) {
            for (int s = 0; s < TENSOR_WARM_UP_STEPS + steps; s++) {
                while (batch.hasRoom()) { // finished ones are replaced at once: every step has all rows
                    int n = sequences++;
                    int[] prompt = {1, 5 + n % 200, 9 + (7 * n) % 250};
                    batch.add(prompt, params.toBuilder().seed((long) n).maxTokens(40 + (37 * n) % 150).build(), null, null);
                }
                if (batch.active() != rows) {
                    throw new IllegalStateException(batch.active() + " rows");
                }
                if (s == TENSOR_WARM_UP_STEPS) {
                    warm = residentKb();
                }
                tokens += batch.active();
                batch.step();
                if (s >= TENSOR_WARM_UP_STEPS) {
                    measured++;
                }
            }
            long growth = residentKb() - warm; // with the cache still open: what the steps left behind
            System.out.println("path=tensor rows=" + rows + " sequences=" + sequences + " tokens=" + tokens
                    + " measuredSteps=" + measured + " growthKb=" + growth);
        }
    }
}
