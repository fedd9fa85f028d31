package dev.forgeline.engine.train;

/**
 * Where a run stands after optimizer step {@code step} (1-based) of {@code totalSteps}.
 *
 * @param epoch          fractional epochs done
 * @param loss           mean loss per target token over the step's micro-batches
 * @param learningRate   the rate this step's update used
 * @param gradNorm       global gradient norm before clipping
 * @param tokensPerSecond real (unpadded) tokens through forward and backward per second, this run
 * @param etaSeconds     estimated time to the last step
 * @param preference     DPO only: the step's reward margin and accuracy over its pairs; null for SFT
 */
public record TrainingProgress(int step, int totalSteps, double epoch, double loss, double learningRate,
        double gradNorm, double tokensPerSecond, double etaSeconds, PreferenceMetrics preference) {

    public TrainingProgress(int step, int totalSteps, double epoch, double loss, double learningRate, double gradNorm,
            double tokensPerSecond, double etaSeconds) {
        this(step, totalSteps, epoch, loss, learningRate, gradNorm, tokensPerSecond, etaSeconds, null);
    }
}
