package dev.forgeline.eval;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The evaluator's own settings, {@code forge.eval.*} (env {@code FORGE_EVAL_...}). Shared
 * settings (artifact store, base-model folder, worker group) are in
 * {@link dev.forgeline.service.ForgeConfig}.
 */
@ConfigMapping(prefix = "forge.eval")
public interface EvalConfig {

    /** Where models run: {@code auto} (the first CUDA device PyTorch sees, else the CPU), {@code cpu}, {@code cuda[:N]}. */
    @WithDefault("auto")
    String device();

    /**
     * Padded tokens per forward when scoring: how many questions share one batch. On the CPU
     * each core scores batches of its own, and attention scores of small batches stay in cache;
     * a GPU wants larger ones.
     */
    @WithDefault("1024")
    int maxBatchTokens();

    /** Sequences decoded together in generate mode. */
    @WithDefault("16")
    int generateBatch();

    /** Resamples of the paired bootstrap interval of the accuracy difference (seeded, so reports repeat). */
    @WithDefault("1000")
    int bootstrapResamples();

    /**
     * Folder of named multiple-choice sets: a request's {@code dataset: mmlu} reads
     * {@code {sets}/mmlu}. Unset: {@code $FORGE_SHARED_DIR/datasets}, else {@code shared/datasets}
     * found walking up from the working directory.
     */
    Optional<Path> sets();
}
