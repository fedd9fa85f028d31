package dev.forgeline.engine.train;

import java.util.List;

/**
 * How a run ended.
 *
 * @param steps              optimizer steps done in total (resumed ones included)
 * @param cancelled          stopped by the cancellation flag before {@code totalSteps}
 * @param resumedFromStep    the checkpoint step this process started from (0: fresh)
 * @param losses             per-step training loss from step 1 (resumed steps from the checkpoint)
 * @param initialHeldOutLoss held-out loss before training; null when resumed or no held-out set
 * @param finalHeldOutLoss   held-out loss at the end; null without a held-out set
 */
public record TrainingResult(int steps, int totalSteps, boolean cancelled, int resumedFromStep, List<Double> losses,
        Double initialHeldOutLoss, Double finalHeldOutLoss, long trainedTokens, double seconds) {

    /** Mean loss of the last up to 10 steps: the figure a card reports as the final train loss. */
    public Double finalTrainLoss() {
        if (losses.isEmpty()) {
            return null;
        }
        List<Double> tail = losses.subList(Math.max(0, losses.size() - 10), losses.size());
        return tail.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }
}
