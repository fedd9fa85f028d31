package dev.forgeline.trainer;

import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.engine.train.TrainingConfig;

/** The request's fields (defaults already filled in by the contract) as the engine's {@link TrainingConfig}. */
final class Hyperparameters {
    private Hyperparameters() {}

    /** Fails with every invalid field named ({@link TrainingConfig#validate()}). */
    static TrainingConfig of(TrainingRequest r) {
        TrainingConfig.Builder b = TrainingConfig.builder()
                .method(switch (r.method()) {
                    case LORA, DPO -> TrainingConfig.Method.LORA;
                    case FULL -> TrainingConfig.Method.FULL;
                    case FREEZE -> TrainingConfig.Method.FREEZE;
                    case AVERAGE -> throw new IllegalArgumentException("method average trains nothing: it has no hyperparameters");
                })
                .epochs(r.epochs())
                .maxSteps(r.maxSteps())
                .learningRate(r.learningRate())
                .schedule(switch (r.scheduler()) {
                    case CONSTANT -> TrainingConfig.Schedule.CONSTANT;
                    case LINEAR -> TrainingConfig.Schedule.LINEAR;
                    case COSINE -> TrainingConfig.Schedule.COSINE;
                })
                .warmupRatio(r.warmupRatio())
                .microBatchSize(r.microBatchSize())
                .gradientAccumulation(r.gradientAccumulationSteps())
                .maxSeqLength(r.maxSeqLength())
                .packing(r.packing())
                .gradientCheckpointing(r.gradientCheckpointing())
                .maxGradNorm(r.maxGradNorm())
                .weightDecay(r.weightDecay())
                .seed(r.seed())
                .evalInterval(r.evalInterval())
                .saveInterval(r.saveInterval())
                .assistantOnly(r.lossOn() == TrainingRequest.LossOn.ASSISTANT);
        if (r.method() == TrainingRequest.Method.DPO) {
            // DPO trains LoRA adapters; the base with them switched off is the reference.
            b.objective(TrainingConfig.Objective.DPO).dpoBeta(r.beta()).dpoAlpha(r.alpha());
        }
        if (r.trainableLayers() != null) {
            b.trainableLayers(r.trainableLayers());
        }
        if (r.lora() != null) {
            TrainingRequest.LoraSettings l = r.lora();
            b.lora(new TrainingConfig.LoraConfig(l.r(), l.alpha(), l.dropout(), l.targetModules()));
        }
        return b.build();
    }
}
