package dev.forgeline.engine.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.bench.ProcessMemory;
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
 * libtorch reaches in this same run: per step against short probes on either side of it
 * ({@link StepClock}), and overall against the best of square matmuls n = 1024, 1536, 2048.
 * Training FLOPs per token: 4 N for LoRA on a frozen base (forward 2 N, backward through
 * activations 2 N; frozen weights get no gradient), N = parameters of every linear layer, lm_head
 * counted on the labelled positions only (the others never reach it), plus attention's score and
 * value products, 3 x 4 T d per layer (forward and backward; the whole T x T product is computed,
 * so it is counted whole); the adapters' own FLOPs are not counted. Goal: MFU >= 0.5. The last
 * line is one JSON object. {@link DpoBenchmark} shares this setup.
 */
public final class TrainBenchmark {
    static final int SEQ_LEN = 256;
    /** -Dbench.gradientCheckpointing=true: the same run with gradient checkpointing. */
    static final boolean CHECKPOINTING = Boolean.getBoolean("bench.gradientCheckpointing");

    public static void main(String[] args) throws Exception {
        int batch = Integer.getInteger("bench.batch", 4);
        int steps = Integer.getInteger("bench.steps", 4);
        // A fresh process's first steps are several times slower (allocator and page-fault warm-up): not timed.
        int warmup = Integer.getInteger("bench.warmup", 3);
        double peak = peak();
        ModelConfig c = RandomModel.smolLm135mShape();
        Path dir = randomModel(c);
        try {
            long linear = linearParameters(c);
            System.out.printf(Locale.ROOT, "linear parameters N = %.1f M (lm_head included); %.0f MFLOP per trained token%n",
                    linear / 1e6, trainFlops(c, 1, 1) / 1e6);
            StepClock.Figures f = sft(dir, batch, steps, warmup, null);
            double tokensPerSecond = (double) batch * SEQ_LEN * steps / f.seconds();
            double mfuOverall = f.flopsPerSecond() / peak;
            System.out.printf(Locale.ROOT, "LoRA r=16 training: %.1f tokens/s, %.1f GFLOP/s; MFU %.3f (median per step "
                    + "against adjacent probes), %.3f against the up-front matmul figure (goal 0.5)%n",
                    tokensPerSecond, f.flopsPerSecond() / 1e9, f.mfu(), mfuOverall);
            System.out.printf(Locale.ROOT,
                    "{\"bench\":\"train\",\"model\":\"random SmolLM-135M shape\",\"method\":\"lora r16 all linear\","
                            + "\"seq_len\":%d,\"batch\":%d,\"timed_steps\":%d,\"gradient_checkpointing\":%s,"
                            + "\"peak_resident_mb\":%d,\"tokens_per_s\":%.1f,\"train_gflops\":%.2f,"
                            + "\"matmul_gflops\":%.2f,\"mfu\":%.4f,\"mfu_vs_upfront_matmul\":%.4f,\"goal\":0.5,\"ratio\":%.4f}%n",
                    SEQ_LEN, batch, steps, CHECKPOINTING, ProcessMemory.peakResident() >> 20,
                    tokensPerSecond, f.flopsPerSecond() / 1e9, peak / 1e9, f.mfu(), mfuOverall, f.mfu() / 0.5);
        } finally {
            Checkpoint.deleteTree(dir);
        }
    }

    /** Prints the engine and the dense matmul FLOP/s of this run, and returns the latter. */
    static double peak() {
        System.out.println("engine: " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
        double peak = matmulFlops();
        System.out.printf(Locale.ROOT, "dense fp32 matmul: %.1f GFLOP/s (best of n = 1024, 1536, 2048)%n", peak / 1e9);
        return peak;
    }

    /** A folder with random weights of shape {@code c}; the caller deletes it. */
    static Path randomModel(ModelConfig c) throws java.io.IOException {
        Path dir = Files.createTempDirectory("forge-bench-train");
        RandomCheckpoint.write(dir, c, 1, 0.02);
        return dir;
    }

    /**
     * Model FLOPs of forward and backward over {@code tokens} tokens of sequences of {@link #SEQ_LEN},
     * {@code headRows} of which go through lm_head (the labelled ones): 4 per frozen weight and row,
     * plus attention's score and value products (3 x 4 T d per layer and token).
     */
    static double trainFlops(ModelConfig c, long tokens, long headRows) {
        long head = (long) c.hiddenSize() * c.vocabSize();
        return tokens * (4.0 * (linearParameters(c) - head) + 3 * attentionForwardFlops(c)) + headRows * 4.0 * head;
    }

    /** Model FLOPs of a forward alone (no graph): 2 per weight and row, attention's products once. */
    static double forwardFlops(ModelConfig c, long tokens, long headRows) {
        long head = (long) c.hiddenSize() * c.vocabSize();
        return tokens * (2.0 * (linearParameters(c) - head) + attentionForwardFlops(c)) + headRows * 2.0 * head;
    }

    /** q.k and the weighted sum of values, 2 T d each per layer and token; the whole T x T product is computed. */
    private static double attentionForwardFlops(ModelConfig c) {
        return 4.0 * c.numHiddenLayers() * c.numAttentionHeads() * c.headDim() * SEQ_LEN;
    }

    /** LoRA r 16 (alpha 32, no dropout) on every linear layer, constant rate, no evaluation or checkpoints. */
    static TrainingConfig.Builder lora(int microBatchSize, int steps) {
        return TrainingConfig.builder().lora(new TrainingConfig.LoraConfig(16, 32, 0.0, null))
                .learningRate(1e-4).schedule(TrainingConfig.Schedule.CONSTANT).warmupRatio(0)
                .microBatchSize(microBatchSize).maxSteps(steps).maxSeqLength(SEQ_LEN).evalInterval(0).saveInterval(0)
                .gradientCheckpointing(CHECKPOINTING);
    }

    /** Random token ids, {@code n} of them. */
    static int[] randomIds(SplittableRandom r, ModelConfig c, int n) {
        int[] ids = new int[n];
        for (int t = 0; t < n; t++) {
            ids[t] = r.nextInt(c.vocabSize());
        }
        return ids;
    }

    /**
     * LoRA SFT on the model in {@code dir}: {@code batch} rows of random tokens a step, loss on every token.
     *
     * @param turn its turns with another run ({@link StepClock}); null when it runs alone
     */
    static StepClock.Figures sft(Path dir, int batch, int steps, int warmup, Turns.Party turn) {
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
            ModelConfig c = model.config();
            TrainingConfig config = lora(batch, steps + warmup).assistantOnly(false).build();
            List<EncodedExample> data = new ArrayList<>();
            SplittableRandom r = new SplittableRandom(5);
            for (int i = 0; i < batch * (steps + warmup); i++) {
                boolean[] target = new boolean[SEQ_LEN];
                for (int t = 1; t < SEQ_LEN; t++) {
                    target[t] = true;
                }
                data.add(new EncodedExample(randomIds(r, c, SEQ_LEN), target));
            }
            // every position but each row's last predicts a target
            StepClock clock = new StepClock("train", trainFlops(c, (long) batch * SEQ_LEN, (long) batch * (SEQ_LEN - 1)),
                    warmup, turn);
            Trainer trainer = new Trainer(model, config);
            try {
                if (turn != null) {
                    turn.begin();
                }
                trainer.train(new TrainingData(data, List.of(), null, null, 0), clock.start(), null, null);
            } finally {
                if (turn != null) {
                    turn.finish();
                }
            }
            return clock.figures();
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
