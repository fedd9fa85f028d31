package dev.forgeline.trainer;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The trainer's own settings, {@code forge.trainer.*} (env {@code FORGE_TRAINER_...}); the
 * README's configuration table lists each with its default. Shared settings (artifact store,
 * base-model folder, worker group) are in {@link dev.forgeline.service.ForgeConfig}.
 */
@ConfigMapping(prefix = "forge.trainer")
public interface TrainerConfig {

    /**
     * Where training runs: {@code auto} (the first CUDA device when PyTorch sees one, else the
     * CPU), {@code cpu}, {@code cuda} or {@code cuda:N}. Trainable weights are float32 either way.
     */
    @WithDefault("auto")
    String device();

    /**
     * A progress event on {@code forge.job-events} every this many optimizer steps (the first and
     * last step of an attempt always report). 1 reports every step's loss.
     */
    @WithDefault("10")
    int progressEvery();
}
