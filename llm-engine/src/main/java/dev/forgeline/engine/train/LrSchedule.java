package dev.forgeline.engine.train;

/**
 * Learning rate per optimizer step, as transformers' {@code get_*_schedule_with_warmup}:
 * linear warmup from 0 over {@code warmupSteps}, then constant, linear decay to 0, or
 * half-cosine decay to 0 at {@code totalSteps}. Step s is the number of updates already made,
 * so the first update of a warmed-up run uses lr 0, as in transformers.
 */
public record LrSchedule(TrainingConfig.Schedule kind, double peak, int totalSteps, int warmupSteps) {

    public static LrSchedule of(TrainingConfig c, int totalSteps) {
        return new LrSchedule(c.schedule(), c.learningRate(), totalSteps, (int) Math.ceil(c.warmupRatio() * totalSteps));
    }

    public double at(int step) {
        if (step < warmupSteps) {
            return peak * step / Math.max(1, warmupSteps);
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        return switch (kind) {
            case CONSTANT -> peak;
            case LINEAR -> peak * Math.max(0, 1 - progress);
            case COSINE -> peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
        };
    }
}
