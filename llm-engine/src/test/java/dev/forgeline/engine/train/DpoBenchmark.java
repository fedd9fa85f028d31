package dev.forgeline.engine.train;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.weights.RandomModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code bench/run dpo}: LoRA DPO (r 16 on every linear layer) on the random SmolLM-135M-shaped
 * model of {@link TrainBenchmark}, fp32 on CPU, every sequence {@value TrainBenchmark#SEQ_LEN}
 * tokens: a pair is a prompt of {@value #PROMPT} random tokens and two replies of the rest, run as
 * one batch of 2P rows. In the same run, on the same model, {@code bench/run train}'s LoRA SFT with
 * as many rows a step is the baseline; the two take turns a step at a time ({@link Turns}), so
 * that both see the same stretch of a shared host's load.
 *
 * <p>FLOPs are counted as in {@link TrainBenchmark#trainFlops}: forward and backward of the policy
 * over every token, lm_head on the reply positions (the labelled ones). The reference log-probs
 * are cached (one forward per pair with the adapters off, before the first step), so a step does
 * not run the reference and its FLOPs are not counted in the step's MFU; that pass is timed on
 * its own after the steps (warm; the other run has finished by then) and reported with its MFU,
 * and in {@code pairs_per_s_one_epoch}, one epoch's pairs/s with it included. Goal: the step's MFU at least 0.8 of the SFT step's. The last line is one
 * JSON object.
 */
public final class DpoBenchmark {
    static final int PROMPT = 64;

    public static void main(String[] args) throws Exception {
        int rows = Integer.getInteger("bench.batch", 4); // per step, in both: SFT rows, or chosen + rejected of rows/2 pairs
        int steps = Integer.getInteger("bench.steps", 4);
        int warmup = Integer.getInteger("bench.warmup", 3);
        if (rows % 2 != 0) {
            throw new IllegalArgumentException("bench.batch must be even (chosen and rejected rows), was " + rows);
        }
        int pairs = rows / 2;
        double peak = TrainBenchmark.peak();
        ModelConfig c = RandomModel.smolLm135mShape();
        Path dir = TrainBenchmark.randomModel(c);
        try {
            // SFT on a thread of its own; the two runs take turns a step at a time
            Turns turns = new Turns();
            ExecutorService sftThread = Executors.newSingleThreadExecutor();
            Future<StepClock.Figures> sft = sftThread.submit(() -> TrainBenchmark.sft(dir, rows, steps, warmup, turns.party(0)));
            Result dpo;
            try {
                dpo = dpo(dir, pairs, steps, warmup, turns.party(1));
            } finally {
                sftThread.shutdown();
            }
            StepClock.Figures train = sft.get();
            StepClock.Figures f = dpo.steps();
            double pairsPerSecond = (double) pairs * f.timedSteps() / f.seconds();
            double referencePairsPerSecond = dpo.referencePairs() / dpo.referenceSeconds();
            double pairsPerSecondOneEpoch = 1 / (1 / pairsPerSecond + 1 / referencePairsPerSecond);
            double relative = f.mfu() / train.mfu();
            System.out.printf(Locale.ROOT, "SFT: %.1f tokens/s, MFU %.3f; DPO: %.2f pairs/s (%.1f tokens/s), MFU %.3f "
                    + "(%.2f of SFT's); reference pass %.2f pairs/s, MFU %.3f; one epoch with it %.2f pairs/s%n",
                    (double) rows * TrainBenchmark.SEQ_LEN * train.timedSteps() / train.seconds(), train.mfu(),
                    pairsPerSecond, pairsPerSecond * 2 * TrainBenchmark.SEQ_LEN, f.mfu(), relative,
                    referencePairsPerSecond, dpo.referenceMfu(), pairsPerSecondOneEpoch);
            System.out.printf(Locale.ROOT,
                    "{\"bench\":\"dpo\",\"model\":\"random SmolLM-135M shape\",\"method\":\"lora r16 all linear, dpo\","
                            + "\"seq_len\":%d,\"prompt_tokens\":%d,\"pairs_per_step\":%d,\"timed_steps\":%d,"
                            + "\"pairs_per_s\":%.3f,\"tokens_per_s\":%.1f,\"dpo_gflops\":%.2f,\"mfu\":%.4f,"
                            + "\"reference\":\"cached, one forward per pair before the first step\","
                            + "\"reference_pairs_per_s\":%.3f,\"reference_mfu\":%.4f,\"pairs_per_s_one_epoch\":%.3f,"
                            + "\"train_tokens_per_s\":%.1f,\"train_mfu\":%.4f,\"matmul_gflops\":%.2f,"
                            + "\"goal\":\"dpo mfu >= 0.8 x train mfu\",\"ratio\":%.4f,\"goal_met\":%b}%n",
                    TrainBenchmark.SEQ_LEN, PROMPT, pairs, f.timedSteps(), pairsPerSecond,
                    pairsPerSecond * 2 * TrainBenchmark.SEQ_LEN, f.flopsPerSecond() / 1e9, f.mfu(), referencePairsPerSecond,
                    dpo.referenceMfu(), pairsPerSecondOneEpoch,
                    (double) rows * TrainBenchmark.SEQ_LEN * train.timedSteps() / train.seconds(), train.mfu(), peak / 1e9,
                    relative, relative >= 0.8);
        } finally {
            Checkpoint.deleteTree(dir);
        }
    }

    /** The DPO steps' figures, and the reference pass over {@code referencePairs} pairs. */
    record Result(StepClock.Figures steps, int referencePairs, double referenceSeconds, double referenceMfu) {}

    /** LoRA DPO on the model in {@code dir}, {@code pairs} pairs a step, taking turns with another run. */
    static Result dpo(Path dir, int pairs, int steps, int warmup, Turns.Party turn) {
        int reply = TrainBenchmark.SEQ_LEN - PROMPT;
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
            ModelConfig c = model.config();
            TrainingConfig config = TrainBenchmark.lora(pairs, steps + warmup).objective(TrainingConfig.Objective.DPO).build();
            SplittableRandom r = new SplittableRandom(5);
            List<PreferencePair> data = new ArrayList<>();
            for (int i = 0; i < pairs * (steps + warmup); i++) {
                int[] prompt = TrainBenchmark.randomIds(r, c, PROMPT);
                data.add(new PreferencePair(reply(prompt, TrainBenchmark.randomIds(r, c, reply)),
                        reply(prompt, TrainBenchmark.randomIds(r, c, reply))));
            }
            long rows = 2L * pairs;
            Trainer trainer = new Trainer(model, config);
            StepClock clock = new StepClock("dpo", TrainBenchmark.trainFlops(c, rows * TrainBenchmark.SEQ_LEN, rows * reply),
                    warmup, turn);
            try {
                turn.begin();
                trainer.train(new PreferenceData(data, List.of(), null, null, 0), clock.start(), null, null);

                // the pass the trainer ran before its first step, timed here on its own, warm (adapters off)
                double before = TrainBenchmark.probe();
                long t0 = System.nanoTime();
                DpoLoss.reference(model, trainer.forward(), data, Math.max(1, pairs * 2), 0);
                double referenceSeconds = (System.nanoTime() - t0) / 1e9;
                double probe = (before + TrainBenchmark.probe()) / 2;
                double referenceFlops = TrainBenchmark.forwardFlops(c, 2L * data.size() * TrainBenchmark.SEQ_LEN,
                        2L * data.size() * reply);
                System.out.printf(Locale.ROOT, "dpo reference pass: %d pairs, %.2f s, matmul probe %.1f GFLOP/s -> MFU %.3f%n",
                        data.size(), referenceSeconds, probe / 1e9, referenceFlops / referenceSeconds / probe);
                return new Result(clock.figures(), data.size(), referenceSeconds, referenceFlops / referenceSeconds / probe);
            } finally {
                turn.finish();
            }
        }
    }

    /** The prompt followed by the reply, whose tokens are the targets. */
    private static EncodedExample reply(int[] prompt, int[] reply) {
        int[] ids = new int[prompt.length + reply.length];
        boolean[] target = new boolean[ids.length];
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        System.arraycopy(reply, 0, ids, prompt.length, reply.length);
        for (int t = prompt.length; t < ids.length; t++) {
            target[t] = true;
        }
        return new EncodedExample(ids, target);
    }
}
