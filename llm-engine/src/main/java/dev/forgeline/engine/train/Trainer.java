package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.model.CausalLm;
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
        this.forward = new TrainingForward(model);
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
        listener = listener == null ? TrainingListener.NONE : listener;
        BatchPlan plan = new BatchPlan(data.train(), config.microBatchSize(), config.gradientAccumulation(),
                config.maxSeqLength(), config.packing(), config.seed(), data.padId());
        int total = config.maxSteps() != null ? config.maxSteps() : config.epochs() * plan.stepsPerEpoch();
        LrSchedule schedule = LrSchedule.of(config, total);
        List<Batch> heldOut = BatchPlan.sequential(data.heldOut(), Math.max(1, config.microBatchSize() * 2), data.padId());

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
        if (start == 0 && !heldOut.isEmpty()) {
            initialHeldOut = evaluate(heldOut);
            listener.onEvaluation(0, initialHeldOut);
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
            List<Batch> micro = plan.step(step);
            int targets = micro.stream().mapToInt(Batch::targets).sum();
            double loss = 0;
            for (int i = 0; i < micro.size(); i++) {
                Batch b = micro.get(i);
                tokens += b.tokens();
                if (b.targets() == 0) {
                    continue;
                }
                JniUtils.setSeed(dropoutSeed(step, i));
                try (NDManager scope = model.manager().newSubManager(); Autograd ignored = Autograd.record()) {
                    NDArray l = forward.lossSum(scope, b).div(targets);
                    Autograd.backward(l);
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
            listener.onStep(new TrainingProgress(done, total, (double) done / plan.stepsPerEpoch(), loss, lr, norm,
                    tokens / Math.max(seconds, 1e-9), perStep * (total - done)));
            if (!heldOut.isEmpty() && config.evalInterval() > 0 && done % config.evalInterval() == 0 && done < total) {
                lastHeldOut = evaluate(heldOut);
                listener.onEvaluation(done, lastHeldOut);
            }
            if (checkpoints != null && config.saveInterval() > 0 && done % config.saveInterval() == 0 && done < total) {
                listener.onCheckpoint(done, save(checkpoints, plan, done, losses));
            }
        }
        if (!stopped) {
            if (!heldOut.isEmpty()) {
                lastHeldOut = evaluate(heldOut);
                listener.onEvaluation(step, lastHeldOut);
            }
            if (checkpoints != null && step > start) {
                listener.onCheckpoint(step, save(checkpoints, plan, step, losses));
            }
        }
        trainable.setTraining(false);
        return new TrainingResult(step, total, stopped, start, List.copyOf(losses), initialHeldOut, lastHeldOut, tokens,
                (System.nanoTime() - began) / 1e9);
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

    private Path save(Path root, BatchPlan plan, int done, List<Double> losses) {
        Checkpoint.State state = new Checkpoint.State(done, done / plan.stepsPerEpoch(),
                (done % plan.stepsPerEpoch()) * config.gradientAccumulation(), config.seed(), optimizer.stepCount(),
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
