package dev.forgeline.engine.train;

import java.nio.file.Path;

/** Receives a run's progress, on the training thread; keep it quick (publish, do not compute). */
public interface TrainingListener {

    TrainingListener NONE = new TrainingListener() { };

    default void onStep(TrainingProgress progress) { }

    /** Held-out loss per target token after {@code step} updates (0: before training). */
    default void onEvaluation(int step, double heldOutLoss) { }

    /**
     * DPO only: held-out loss, reward margin and preference accuracy after {@code step} updates;
     * called just before {@link #onEvaluation} of the same step (whose loss is then the DPO loss).
     */
    default void onPreferenceEvaluation(int step, PreferenceMetrics heldOut) { }

    default void onCheckpoint(int step, Path directory) { }
}
