package dev.forgeline.engine.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The training benchmarks' clock: times each optimizer step and reads a short matmul probe
 * ({@link TrainBenchmark#probe}) after it. The machine is shared and its speed drifts with other
 * loads, so each step's FLOP/s is compared with the probes on either side of it. Taking
 * {@link Turns} with another run, the clock stops while the other runs its step, and a fresh
 * probe opens the next step.
 */
final class StepClock implements TrainingListener {

    /** What the timed steps (those after the warm-up) measured. */
    record Figures(int timedSteps, double seconds, double stepFlops, double mfu) {
        double flopsPerSecond() {
            return stepFlops * timedSteps / seconds;
        }
    }

    private final String label;
    private final double stepFlops;
    private final int warmup;
    private final Turns.Party turn;
    private final List<Double> stepSeconds = new ArrayList<>();
    private final List<Double> before = new ArrayList<>(); // probe read just before each step
    private final List<Double> after = new ArrayList<>(); // and just after it
    private long last;

    /** @param stepFlops the model FLOPs of one optimizer step; the first {@code warmup} steps are not timed */
    StepClock(String label, double stepFlops, int warmup) {
        this(label, stepFlops, warmup, null);
    }

    /** @param turn this run's turns with another (null: runs alone); call its {@code finish()} after the run */
    StepClock(String label, double stepFlops, int warmup, Turns.Party turn) {
        this.label = label;
        this.stepFlops = stepFlops;
        this.warmup = warmup;
        this.turn = turn;
    }

    /** Reads the first probe and starts the clock: call just before the training run (and in its turn). */
    StepClock start() {
        before.add(TrainBenchmark.probe());
        last = System.nanoTime();
        return this;
    }

    @Override
    public void onStep(TrainingProgress p) {
        stepSeconds.add((System.nanoTime() - last) / 1e9);
        double probe = TrainBenchmark.probe();
        after.add(probe);
        int i = stepSeconds.size() - 1;
        System.out.printf(Locale.ROOT, "%s step %d: loss %.3f, %.2f s, %.1f GFLOP/s, matmul probe %.1f GFLOP/s -> MFU %.3f%n",
                label, p.step(), p.loss(), stepSeconds.get(i), stepFlops / stepSeconds.get(i) / 1e9, adjacentProbe(i) / 1e9,
                mfu(i));
        if (turn != null && p.step() < p.totalSteps()) {
            turn.pass();
            probe = TrainBenchmark.probe();
        }
        before.add(probe);
        last = System.nanoTime();
    }

    private double adjacentProbe(int step) {
        return (before.get(step) + after.get(step)) / 2;
    }

    private double mfu(int step) {
        return stepFlops / stepSeconds.get(step) / adjacentProbe(step);
    }

    /** The timed steps' total time and their median MFU against adjacent probes. */
    Figures figures() {
        if (stepSeconds.size() <= warmup) {
            throw new IllegalStateException(label + ": " + stepSeconds.size() + " steps ran, none after the " + warmup
                    + " warm-up steps");
        }
        List<Double> perStep = new ArrayList<>();
        double seconds = 0;
        for (int i = warmup; i < stepSeconds.size(); i++) {
            perStep.add(mfu(i));
            seconds += stepSeconds.get(i);
        }
        perStep.sort(null);
        return new Figures(perStep.size(), seconds, stepFlops, perStep.get(perStep.size() / 2));
    }
}
