package dev.forgeline.engine;

import dev.forgeline.engine.config.GenerationConfig;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.ContinuationScorer;
import dev.forgeline.engine.generate.Generator;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.model.CausalLm;
import java.nio.file.Path;

/**
 * A model folder loaded for use: the decoder, its configs, and the ways to run it. The entry
 * point for the gateway (generate, batch), the evaluator (score) and the trainer (the model).
 */
public final class LoadedModel implements AutoCloseable {

    private final Path dir;
    private final CausalLm model;
    private final GenerationConfig generationConfig;

    private LoadedModel(Path dir, CausalLm model, GenerationConfig generationConfig) {
        this.dir = dir;
        this.model = model;
        this.generationConfig = generationConfig;
    }

    public static LoadedModel load(Path dir) {
        return load(dir, ComputeTarget.auto());
    }

    public static LoadedModel load(Path dir, ComputeTarget target) {
        CausalLm model = CausalLm.load(dir, target.device(), target.dtype());
        return new LoadedModel(dir, model, GenerationConfig.read(dir, model.config()));
    }

    public Path dir() {
        return dir;
    }

    public CausalLm model() {
        return model;
    }

    public ModelConfig config() {
        return model.config();
    }

    public GenerationConfig generationConfig() {
        return generationConfig;
    }

    /** Sampling defaults of the model author: generation_config.json's eos ids and settings. */
    public SamplingParams.Builder defaultSampling() {
        return SamplingParams.builder(generationConfig);
    }

    public Generator generator() {
        return new Generator(model);
    }

    /** A continuous-batching decoder; close it to free its KV cache. */
    public BatchDecoder batchDecoder(int capacity, int maxLength) {
        return new BatchDecoder(model, capacity, maxLength);
    }

    /** A scorer with one worker per core on the CPU (see {@link ContinuationScorer}). */
    public ContinuationScorer scorer(int maxBatchTokens) {
        return new ContinuationScorer(model, maxBatchTokens, Runtime.getRuntime().availableProcessors());
    }

    @Override
    public void close() {
        model.close();
    }
}
