package dev.forgeline.engine.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.weights.RandomModel;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code bench/run train}: LoRA (r 16 on q, k, v, o, gate, up, down) training throughput of a
 * random model with SmolLM-135M's shape, fp32 on CPU, sequence length 256, loss on every token.
 *
 * <p>Model FLOPs utilisation = achieved training FLOP/s over the dense fp32 matmul FLOP/s that
 * libtorch reaches in this same run (best of square matmuls n = 1024, 1536, 2048). Training
 * FLOPs per token: 4 N for LoRA on a frozen base (forward 2 N, backward through activations
 * 2 N; frozen weights get no gradient), N = parameters of every linear layer including lm_head,
 * plus attention's score and value products, 3 x 4 T d per layer (forward and backward; the
 * whole T x T product is computed, so it is counted whole); the adapters' own FLOPs are not
 * counted. Goal: MFU >= 0.5. The last line is one JSON object.
 */
public final class TrainBenchmark {


    public static void main(String[] args) throws Exception {
        int seqLen = 256;
        int batch = Integer.getInteger("bench.batch", 4);
        int steps = Integer.getInteger("bench.steps", 4);
        // A fresh process's first steps are several times slower (allocator and page-fault warm-up): not timed.
        int warmup = Integer.getInteger("bench.warmup", 3);
        System.out.println("engine: " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
        double peak = matmulFlops();
        System.out.printf(Locale.ROOT, "dense fp32 matmul: %.1f GFLOP/s (best of n = 1024, 1536, 2048)%n", peak / 1e9);

        ModelConfig c = RandomModel.smolLm135mShape();
        Path dir = Files.createTempDirectory("forge-bench-train");
        try {
            RandomCheckpoint.write(dir, c, 1, 0.02);
            long linear = linearParameters(c);
            double attention = 12.0 * c.numHiddenLayers() * c.numAttentionHeads() * c.headDim() * seqLen;
            double flopsPerToken = 4.0 * linear + attention;
            System.out.printf(Locale.ROOT, "linear parameters N = %.1f M (lm_head included); %.0f MFLOP per trained token%n",
                    linear / 1e6, flopsPerToken / 1e6);
            try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
                TrainingConfig config = TrainingConfig.builder().lora(new TrainingConfig.LoraConfig(16, 32, 0.0, null))
                        .learningRate(1e-4).schedule(TrainingConfig.Schedule.CONSTANT).warmupRatio(0)
                        .microBatchSize(batch).maxSteps(steps + warmup).maxSeqLength(seqLen).assistantOnly(false)
                        .evalInterval(0).saveInterval(0).build();
                List<EncodedExample> data = new ArrayList<>();
                SplittableRandom r = new SplittableRandom(5);
                for (int i = 0; i < batch * (steps + warmup); i++) {
                    int[] ids = new int[seqLen];
                    boolean[] target = new boolean[seqLen];
                    for (int t = 0; t < seqLen; t++) {
                        ids[t] = r.nextInt(c.vocabSize());
                        target[t] = t > 0;
                    }
                    data.add(new EncodedExample(ids, target));
                }
                Trainer trainer = new Trainer(model, config);
                // This machine is shared: its speed drifts with other loads. A short matmul probe
                // runs between steps, and each step is compared with the probes on either side.
                List<Double> stepSeconds = new ArrayList<>();
                List<Double> probes = new ArrayList<>(List.of(probe()));
                long[] last = {System.nanoTime()};
                double stepFlops = flopsPerToken * batch * seqLen;
                trainer.train(new TrainingData(data, List.of(), null, null, 0), new TrainingListener() {
                    @Override
                    public void onStep(TrainingProgress p) {
                        stepSeconds.add((System.nanoTime() - last[0]) / 1e9);
                        probes.add(probe());
                        int i = stepSeconds.size() - 1;
                        double local = (probes.get(i) + probes.get(i + 1)) / 2;
                        System.out.printf(Locale.ROOT, "step %d: loss %.3f, %.2f s, %.1f GFLOP/s, matmul probe %.1f GFLOP/s -> MFU %.3f%n",
                                p.step(), p.loss(), stepSeconds.get(i), stepFlops / stepSeconds.get(i) / 1e9, local / 1e9,
                                stepFlops / stepSeconds.get(i) / local);
                        last[0] = System.nanoTime();
                    }
                }, null, null);
                double timed = stepSeconds.subList(warmup, stepSeconds.size()).stream().mapToDouble(Double::doubleValue).sum();
                double tokensPerSecond = (double) batch * seqLen * steps / timed;
                double achieved = tokensPerSecond * flopsPerToken;
                List<Double> perStep = new ArrayList<>();
                for (int i = warmup; i < stepSeconds.size(); i++) {
                    perStep.add(stepFlops / stepSeconds.get(i) / ((probes.get(i) + probes.get(i + 1)) / 2));
                }
                perStep.sort(null);
                double mfu = perStep.get(perStep.size() / 2);
                double mfuOverall = achieved / peak;
                System.out.printf(Locale.ROOT, "LoRA r=16 training: %.1f tokens/s, %.1f GFLOP/s; MFU %.3f (median per step "
                        + "against adjacent probes), %.3f against the up-front matmul figure (goal 0.5)%n",
                        tokensPerSecond, achieved / 1e9, mfu, mfuOverall);
                System.out.printf(Locale.ROOT,
                        "{\"bench\":\"train\",\"model\":\"random SmolLM-135M shape\",\"method\":\"lora r16 all linear\","
                                + "\"seq_len\":%d,\"batch\":%d,\"timed_steps\":%d,\"tokens_per_s\":%.1f,\"train_gflops\":%.2f,"
                                + "\"matmul_gflops\":%.2f,\"mfu\":%.4f,\"mfu_vs_upfront_matmul\":%.4f,\"goal\":0.5,\"ratio\":%.4f}%n",
                        seqLen, batch, steps, tokensPerSecond, achieved / 1e9, peak / 1e9, mfu, mfuOverall, mfu / 0.5);
            }
        } finally {
            Checkpoint.deleteTree(dir);
        }
    }

    /** Every linear layer's weights, lm_head included (tied or not, it is a matmul per token). */
    static long linearParameters(ModelConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long perLayer = h * q + 2 * h * kv + q * h + 3 * h * c.intermediateSize();
        return perLayer * c.numHiddenLayers() + h * c.vocabSize();
    }

    /** A quick matmul FLOP/s reading (n = 1536, best of 3). */
    static double probe() {
        int n = 1536;
        double best = 0;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            for (int i = 0; i < 4; i++) {
                long t0 = System.nanoTime();
                NDArray p = a.matMul(b);
                p.getFloat(0, 0);
                p.close();
                if (i > 0) {
                    best = Math.max(best, 2.0 * n * n * n / ((System.nanoTime() - t0) / 1e9));
                }
            }
        }
        return best;
    }

    static double matmulFlops() {
        double best = 0;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (int n : new int[] {1024, 1536, 2048}) {
                NDArray a = m.randomNormal(new Shape(n, n));
                NDArray b = m.randomNormal(new Shape(n, n));
                a.matMul(b).close(); // warm-up
                int reps = n <= 1024 ? 8 : 3;
                for (int round = 0; round < 2; round++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) {
                        NDArray p = a.matMul(b);
                        p.getFloat(0, 0); // waits for the result
                        p.close();
                    }
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    best = Math.max(best, 2.0 * n * n * n * reps / seconds);
                }
                a.close();
                b.close();
            }
        }
        return best;
    }
}
