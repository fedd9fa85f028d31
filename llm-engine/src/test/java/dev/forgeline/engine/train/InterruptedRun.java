package dev.forgeline.engine.train;

import ai.djl.ndarray.types.DataType;
import ai.djl.Device;
import dev.forgeline.engine.model.CausalLm;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * One training job three ways, for the resume tests: uninterrupted, stopped after a step, and
 * resumed from the stopped run's checkpoints on a freshly loaded model (a new process's view).
 *
 * @param latestAfterStop the newest checkpoint's folder name when the stopped run ended
 */
record InterruptedRun(TrainingResult uninterrupted, TrainingResult stopped, String latestAfterStop, TrainingResult resumed) {

    /** How the test's job trains: its data set on a trainer. */
    interface Job {
        TrainingResult train(Trainer trainer, TrainingListener listener, Path checkpoints, BooleanSupplier cancelled);
    }

    static InterruptedRun of(Path base, TrainingConfig config, Path dir, int stopAfter, Job job) {
        TrainingResult uninterrupted;
        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            uninterrupted = job.train(new Trainer(model, config), null, dir.resolve("a"), null);
        }
        Path checkpoints = dir.resolve("b");
        int[] steps = {0};
        TrainingResult stopped;
        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            stopped = job.train(new Trainer(model, config), new TrainingListener() {
                @Override
                public void onStep(TrainingProgress p) {
                    steps[0] = p.step();
                }
            }, checkpoints, () -> steps[0] >= stopAfter);
        }
        String latest = Checkpoint.latest(checkpoints).orElseThrow().getFileName().toString();
        TrainingResult resumed;
        try (CausalLm model = CausalLm.load(base, Device.cpu(), DataType.FLOAT32)) {
            resumed = job.train(new Trainer(model, config), null, checkpoints, null);
        }
        return new InterruptedRun(uninterrupted, stopped, latest, resumed);
    }

    /** The largest |loss difference| between the uninterrupted and the resumed run, step by step. */
    double maxLossDiff() {
        List<Double> a = uninterrupted.losses();
        List<Double> b = resumed.losses();
        double worst = 0;
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            worst = Math.max(worst, Math.abs(a.get(i) - b.get(i)));
        }
        return worst;
    }
}
