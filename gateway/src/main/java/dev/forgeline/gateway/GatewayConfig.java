package dev.forgeline.gateway;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import dev.forgeline.engine.model.WeightLayout;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The gateway's settings ({@code forge.gateway.*}); each default is documented here. */
@ConfigMapping(prefix = "forge.gateway")
public interface GatewayConfig {

    /** Hub model ids served as base models (downloaded on first use into the HF cache). */
    @WithName("hub-models")
    Optional<List<String>> hubModels();

    /** API keys accepted as {@code Authorization: Bearer <key>}; none configured: the API is open (local mode). */
    @WithName("api-keys")
    Optional<List<String>> apiKeys();

    /** Sequences decoded together per loaded model (the CPU kernel steps them 16 rows at a time). */
    @WithName("max-batch")
    @WithDefault("16")
    int maxBatch();

    /** Sequences that may wait for a row per model; beyond this a request gets 429. */
    @WithName("max-waiting")
    @WithDefault("256")
    int maxWaiting();

    /** Prompt tokens prefilled between two decode steps (at least one prompt always goes in). */
    @WithName("prefill-tokens-per-step")
    @WithDefault("2048")
    int prefillTokensPerStep();

    /** Caps each model's context (and KV cache rows); 0 keeps the model's max_position_embeddings. */
    @WithName("max-context")
    @WithDefault("0")
    int maxContext();

    /** Weights of loaded models may take this many MiB; beyond it idle models unload, least recently used first. */
    @WithName("memory-budget-mib")
    @WithDefault("8192")
    long memoryBudgetMib();

    /** How long a request waits for its model to load before it gets 503 with Retry-After. */
    @WithName("load-timeout")
    @WithDefault("60s")
    Duration loadTimeout();

    /** Largest accepted request body. */
    @WithName("max-body-bytes")
    @WithDefault("4194304")
    long maxBodyBytes();

    /**
     * Largest file {@code POST /v1/files} accepts (the file itself; the multipart body around it may
     * be 64 KiB more); beyond it 413. The whole upload is held in memory while it is checked line by line.
     */
    @WithName("files.max-bytes")
    @WithDefault("33554432")
    long filesMaxBytes();

    /** auto (the first GPU when one is visible), cpu, cuda or cuda:N; anything else stops startup. */
    @WithDefault("auto")
    String device();

    /**
     * auto (float16 on a GPU, float32 on the CPU), float32 or float16; anything else stops startup
     * (DJL's PyTorch bindings have no bfloat16: bf16 checkpoints are widened on load).
     */
    @WithDefault("float32")
    String dtype();

    /**
     * How a loaded model holds its weights: {@code packed}, only in the CPU kernel's tiles (about 1x
     * the weights; float32 on the CPU with the Vector API and heap room, else it loads as
     * {@code tensors} and logs why), or {@code tensors}, libtorch's tensors plus the kernel's packed
     * copy (2x on the CPU).
     */
    @WithDefault("packed")
    WeightLayout weights();

    /** Follow {@code forge.models} so that approved models become servable without a restart. */
    @WithName("registry.enabled")
    @WithDefault("true")
    boolean registryEnabled();

    /** Timeout of a call to a remote backend (vLLM, DJL Serving), per request. */
    @WithName("remote-timeout")
    @WithDefault("300s")
    Duration remoteTimeout();
}
