package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * Supervised fine-tuning of a loaded {@link CausalLm}: LoRA, full or freeze, AdamW with
 * clipping, accumulation and a warmup schedule, periodic held-out loss and checkpoints, and
 * exact resume from the newest checkpoint.
 *
 * <p>The loss of an optimizer step is the mean over every target token of its micro-batches
 * (each micro-batch's summed loss is divided by the step's total target count before
 * backward), so accumulation over k micro-batches gives the gradient of one k-times larger
 * batch, whatever the examples' lengths.
 *
 * <p>Single-threaded: one trainer per model, called from one thread.
 */
public final class Trainer {

    private final CausalLm model;
    private final TrainingConfig config;
    private final TrainableSet trainable;
    private final TrainingForward forward;
    private final AdamW optimizer;

    /** Prepares the method's trainable tensors on {@code model} (LoRA attaches its adapters here). */
    public Trainer(CausalLm model, TrainingConfig config) {
        this.model = model;
        this.config = config.validate();
        this.trainable = TrainableSet.prepare(model, config);
        this.forward = new TrainingForward(model, config.gradientCheckpointing());
        this.optimizer = new AdamW(trainable.parameters(), config.weightDecay());
    }

    /**
     * Trains to the configured number of steps, resuming from the newest checkpoint under
     * {@code checkpoints} when there is one.
     *
     * @param checkpoints folder of step-N checkpoints; null for none
     * @param cancelled   checked before every step; when true the run stops and keeps its last checkpoint
     */
    public TrainingResult train(TrainingData data, TrainingListener listener, Path checkpoints, BooleanSupplier cancelled) {
        if (config.objective() != TrainingConfig.Objective.SFT) {
            throw new IllegalArgumentException("objective " + config.objective() + " trains on preference data");
        }
        return run(new SupervisedObjective(data), listener, checkpoints, cancelled);
    }

    /**
     * DPO over preference pairs: the same loop as {@link #train(TrainingData, TrainingListener, Path, BooleanSupplier)}
     * (schedule, clipping, accumulation, checkpoints and exact resume), with the loss of
     * {@link DpoLoss} per pair, averaged over the step's pairs. Progress carries the step's
     * reward margin and accuracy; held-out evaluations report the mean DPO loss and, through
     * {@link TrainingListener#onPreferenceEvaluation}, the held-out accuracy.
     */
    public TrainingResult train(PreferenceData data, TrainingListener listener, Path checkpoints, BooleanSupplier cancelled) {
        if (config.objective() != TrainingConfig.Objective.DPO) {
            throw new IllegalArgumentException("preference data needs objective DPO, config has " + config.objective());
        }
        return run(new PreferenceObjective(data), listener, checkpoints, cancelled);
    }

    private TrainingResult run(Objective objective, TrainingListener listener, Path checkpoints, BooleanSupplier cancelled) {
        listener = listener == null ? TrainingListener.NONE : listener;
        int total = config.maxSteps() != null ? config.maxSteps() : config.epochs() * objective.stepsPerEpoch();
        LrSchedule schedule = LrSchedule.of(config, total);

        List<Double> losses = new ArrayList<>();
        int start = 0;
        Optional<Path> latest = Checkpoint.latest(checkpoints);
        if (latest.isPresent()) {
            Checkpoint.State state = Checkpoint.load(latest.get(), trainable, optimizer);
            requireSameConfig(state.config(), latest.get());
            start = state.step();
            losses.addAll(state.losses());
        }
        Double initialHeldOut = null;
        if (start == 0 && objective.hasHeldOut()) {
            initialHeldOut = evaluate(objective, listener, 0);
        }

        long began = System.nanoTime();
        long tokens = 0;
        boolean stopped = false;
        int step = start;
        Double lastHeldOut = null;
        trainable.setTraining(true);
        for (; step < total; step++) {
            if (cancelled != null && cancelled.getAsBoolean()) {
                stopped = true;
                break;
            }
            List<MicroBatch> micro = objective.step(step);
            double loss = 0;
            for (int i = 0; i < micro.size(); i++) {
                MicroBatch b = micro.get(i);
                tokens += b.tokens();
                if (b.empty()) {
                    continue;
                }
                JniUtils.setSeed(dropoutSeed(step, i));
                try (NDManager scope = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
                    NDArray l = b.loss(scope);
                    Autograd.backward(l);
                    forward.backwardThroughLayers();
                    loss += l.getFloat();
                }
            }
            double norm = GradientClipping.clip(trainable.parameters(), config.maxGradNorm());
            double lr = schedule.at(step);
            optimizer.step(lr);
            trainable.parameters().forEach(p -> Autograd.zeroGradient(p.value()));
            losses.add(loss);

            int done = step + 1;
            double seconds = (System.nanoTime() - began) / 1e9;
            double perStep = seconds / (done - start);
            listener.onStep(new TrainingProgress(done, total, (double) done / objective.stepsPerEpoch(), loss, lr, norm,
                    tokens / Math.max(seconds, 1e-9), perStep * (total - done), objective.stepMetrics()));
            if (objective.hasHeldOut() && config.evalInterval() > 0 && done % config.evalInterval() == 0 && done < total) {
                lastHeldOut = evaluate(objective, listener, done);
            }
            if (checkpoints != null && config.saveInterval() > 0 && done % config.saveInterval() == 0 && done < total) {
                listener.onCheckpoint(done, save(checkpoints, objective, done, losses));
            }
        }
        if (!stopped) {
            if (objective.hasHeldOut()) {
                lastHeldOut = evaluate(objective, listener, step);
            }
            if (checkpoints != null && step > start) {
                listener.onCheckpoint(step, save(checkpoints, objective, step, losses));
            }
        }
        trainable.setTraining(false);
        return new TrainingResult(step, total, stopped, start, List.copyOf(losses), initialHeldOut, lastHeldOut, tokens,
                (System.nanoTime() - began) / 1e9);
    }

    private double evaluate(Objective objective, TrainingListener listener, int step) {
        trainable.setTraining(false);
        try {
            return objective.evaluate(listener, step);
        } finally {
            trainable.setTraining(true);
        }
    }

    /** One micro-batch of an optimizer step: its share of the step's loss, with the graph. */
    private interface MicroBatch {
        long tokens();

        boolean empty();

        NDArray loss(NDManager scope);
    }

    /** What the loop minimises: the data order, each step's micro-batches and the held-out measure. */
    private interface Objective {
        int stepsPerEpoch();

        List<MicroBatch> step(int step);

        /** The last step's DPO measures; null for SFT. */
        PreferenceMetrics stepMetrics();

        boolean hasHeldOut();

        /** Held-out loss (dropout off, no graph), reported to the listener. */
        double evaluate(TrainingListener listener, int step);
    }

    /**
     * SFT: the loss of an optimizer step is the mean over every target token of its micro-batches
     * (each micro-batch's summed loss divided by the step's total target count).
     */
    private final class SupervisedObjective implements Objective {
        private final BatchPlan plan;
        private final List<Batch> heldOut;

        SupervisedObjective(TrainingData data) {
            plan = new BatchPlan(data.train(), config.microBatchSize(), config.gradientAccumulation(),
                    config.maxSeqLength(), config.packing(), config.seed(), data.padId());
            heldOut = BatchPlan.sequential(data.heldOut(), Math.max(1, config.microBatchSize() * 2), data.padId());
        }

        @Override
        public int stepsPerEpoch() {
            return plan.stepsPerEpoch();
        }

        @Override
        public List<MicroBatch> step(int step) {
            List<Batch> micro = plan.step(step);
            int targets = micro.stream().mapToInt(Batch::targets).sum();
            return micro.stream().<MicroBatch>map(b -> new MicroBatch() {
                public long tokens() {
                    return b.tokens();
                }

                public boolean empty() {
                    return b.targets() == 0;
                }

                public NDArray loss(NDManager scope) {
                    return forward.lossSum(scope, b).div(targets);
                }
            }).toList();
        }

        @Override
        public PreferenceMetrics stepMetrics() {
            return null;
        }

        @Override
        public boolean hasHeldOut() {
            return !heldOut.isEmpty();
        }

        @Override
        public double evaluate(TrainingListener listener, int step) {
            double loss = HeldOutLoss.mean(forward, model, heldOut);
            listener.onEvaluation(step, loss);
            return loss;
        }
    }

    /**
     * DPO: micro-batches of {@code micro_batch_size} pairs (chosen and rejected as one batch of
     * 2P rows); the step's loss is the mean over its pairs. The reference log-probs of every
     * pair are computed once, before the first step, with the adapters off; a resumed run
     * computes them again from the same base weights.
     */
    private final class PreferenceObjective implements Objective {
        private final PreferenceData data;
        private final PairPlan plan;
        private final DpoLoss dpo;
        private final List<DpoLoss.Reference> reference;
        private List<DpoLoss.Reference> heldOutReference;
        private final List<double[]> stepMargins = new ArrayList<>();
        private double stepLoss;

        PreferenceObjective(PreferenceData data) {
            this.data = data;
            this.plan = new PairPlan(data.train().size(), config.microBatchSize(), config.gradientAccumulation(), config.seed());
            this.dpo = new DpoLoss(config.dpoBeta(), config.dpoAlpha());
            this.reference = DpoLoss.reference(model, forward, data.train(), Math.max(1, config.microBatchSize() * 2),
                    data.padId());
        }

        @Override
        public int stepsPerEpoch() {
            return plan.stepsPerEpoch();
        }

        @Override
        public List<MicroBatch> step(int step) {
            List<int[]> micro = plan.step(step);
            int pairsInStep = micro.stream().mapToInt(a -> a.length).sum();
            stepMargins.clear();
            stepLoss = 0;
            List<MicroBatch> out = new ArrayList<>();
            for (int[] indices : micro) {
                List<PreferencePair> pairs = new ArrayList<>();
                List<DpoLoss.Reference> ref = new ArrayList<>();
                long tokens = 0;
                for (int i : indices) {
                    PreferencePair pair = data.train().get(i);
                    pairs.add(pair);
                    ref.add(reference.get(i));
                    tokens += pair.chosen().length() + pair.rejected().length();
                }
                long realTokens = tokens;
                out.add(new MicroBatch() {
                    public long tokens() {
                        return realTokens;
                    }

                    public boolean empty() {
                        return pairs.isEmpty();
                    }

                    public NDArray loss(NDManager scope) {
                        NDArray[] policy = DpoLoss.policy(forward, scope, pairs, data.padId());
                        DpoLoss.Result r = dpo.loss(scope, policy[0], policy[1], ref, DpoLoss.chosenTokens(pairs));
                        stepMargins.add(r.margins());
                        NDArray l = r.lossSum().div(pairsInStep);
                        stepLoss += l.toType(DataType.FLOAT64, false).getDouble();
                        return l;
                    }
                });
            }
            return out;
        }

        @Override
        public PreferenceMetrics stepMetrics() {
            return metrics(stepMargins, stepLoss);
        }

        @Override
        public boolean hasHeldOut() {
            return !data.heldOut().isEmpty();
        }

        @Override
        public double evaluate(TrainingListener listener, int step) {
            if (heldOutReference == null) {
                heldOutReference = DpoLoss.reference(model, forward, data.heldOut(),
                        Math.max(1, config.microBatchSize() * 2), data.padId());
            }
            PreferenceMetrics m = evaluatePairs(data.heldOut(), heldOutReference, data.padId());
            listener.onPreferenceEvaluation(step, m); // first, so a listener can report both in one event
            listener.onEvaluation(step, m.loss());
            return m.loss();
        }
    }

    /**
     * DPO's loss, mean reward margin and accuracy over {@code pairs}, given their reference
     * log-probs ({@link DpoLoss#reference}); no graph. Call it with dropout off (after training,
     * or inside the trainer's evaluation).
     */
    public PreferenceMetrics evaluatePairs(List<PreferencePair> pairs, List<DpoLoss.Reference> reference, int padId) {
        DpoLoss dpo = new DpoLoss(config.dpoBeta(), config.dpoAlpha());
        int size = Math.max(1, config.microBatchSize() * 2);
        List<double[]> margins = new ArrayList<>();
        double loss = 0;
        try (NoGradient ignored = NoGradient.enter()) {
            for (int from = 0; from < pairs.size(); from += size) {
                List<PreferencePair> chunk = pairs.subList(from, Math.min(from + size, pairs.size()));
                try (NDManager scope = model.manager().newSubManager()) {
                    NDArray[] policy = DpoLoss.policy(forward, scope, chunk, padId);
                    DpoLoss.Result r = dpo.loss(scope, policy[0], policy[1],
                            reference.subList(from, from + chunk.size()), DpoLoss.chosenTokens(chunk));
                    margins.add(r.margins());
                    loss += r.lossSum().toType(DataType.FLOAT64, false).getDouble();
                }
            }
        }
        return metrics(margins, loss / Math.max(1, pairs.size()));
    }

    private static PreferenceMetrics metrics(List<double[]> margins, double meanLoss) {
        int n = 0;
        int right = 0;
        double sum = 0;
        for (double[] ms : margins) {
            for (double z : ms) {
                n++;
                sum += z;
                right += z > 0 ? 1 : 0;
            }
        }
        return n == 0 ? null : new PreferenceMetrics(n, meanLoss, sum / n, (double) right / n);
    }

    /** Mean loss per target token over {@code batches}, dropout off, no graph. */
    public double evaluate(List<Batch> batches) {
        trainable.setTraining(false);
        try {
            return HeldOutLoss.mean(forward, model, batches);
        } finally {
            trainable.setTraining(true);
        }
    }

    /** Held-out loss of examples encoded for this model. */
    public double evaluate(List<EncodedExample> examples, int padId) {
        return evaluate(BatchPlan.sequential(examples, Math.max(1, config.microBatchSize() * 2), padId));
    }

    private Path save(Path root, Objective objective, int done, List<Double> losses) {
        Checkpoint.State state = new Checkpoint.State(done, done / objective.stepsPerEpoch(),
                (done % objective.stepsPerEpoch()) * config.gradientAccumulation(), config.seed(), optimizer.stepCount(),
                List.copyOf(losses), config.toMap(),
                "torch generator reseeded before each micro-batch with mix(seed, step, micro-batch); data order "
                        + "Random(seed) packing, Random(seed * 1000003 + epoch + 1) per epoch");
        return Checkpoint.save(root, trainable, optimizer, state, 2);
    }

    private void requireSameConfig(Map<String, Object> saved, Path dir) {
        Map<String, Object> now = config.toMap();
        for (String key : List.of("eval_interval", "save_interval", "max_steps", "epochs")) {
            now.remove(key);
        }
        for (Map.Entry<String, Object> e : now.entrySet()) {
            Object before = saved.get(e.getKey());
            if (before != null && !String.valueOf(before).equals(String.valueOf(e.getValue()))) {
                throw new IllegalStateException("checkpoint " + dir + " was made with " + e.getKey() + "=" + before
                        + ", this run has " + e.getValue() + "; resume needs the same hyperparameters");
            }
        }
    }

    /** A 64-bit mix of (seed, step, micro-batch) (SplitMix64's finaliser), so nearby steps get unrelated seeds. */
    private long dropoutSeed(int step, int micro) {
        long z = config.seed() + 0x9E3779B97F4A7C15L * (((long) step << 8) + micro + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    public TrainableSet trainable() {
        return trainable;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    public TrainingForward forward() {
        return forward;
    }

    public TrainingConfig config() {
        return config;
    }

    public CausalLm model() {
        return model;
    }
}
