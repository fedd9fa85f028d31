package dev.forgeline.engine.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.config.RopeScaling;
import dev.forgeline.engine.weights.RandomModel;
import java.nio.file.Path;
import java.util.List;

/** Small random models of the shapes the engine must handle. */
public final class TinyModels {

    private TinyModels() {}

    /** Llama with grouped-query attention (4 query heads on 2 kv heads) and an untied lm_head. */
    public static ModelConfig llamaGqaUntied() {
        return ModelConfig.builder("llama").hiddenSize(64).intermediateSize(96).numAttentionHeads(4)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(256)
                .tieWordEmbeddings(false).build();
    }

    /** Qwen2: q/k/v biases, tied embeddings, 6 query heads on 2 kv heads, rope_theta 1e6. */
    public static ModelConfig qwen2Bias() {
        return ModelConfig.builder("qwen2").hiddenSize(48).intermediateSize(80).numAttentionHeads(6)
                .numKeyValueHeads(2).numHiddenLayers(2).vocabSize(320).maxPositionEmbeddings(256)
                .ropeTheta(1_000_000).tieWordEmbeddings(true).eosTokenIds(List.of(2, 0)).build();
    }

    /** Llama 3.1 rope scaling, head_dim given explicitly and different from hidden / heads. */
    public static ModelConfig llama3RopeScaling() {
        return ModelConfig.builder("llama").hiddenSize(64).intermediateSize(128).numAttentionHeads(4)
                .numKeyValueHeads(1).headDim(32).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(256)
                .ropeTheta(500_000).ropeScaling(RopeScaling.llama3(8.0, 1.0, 4.0, 32))
                .tieWordEmbeddings(true).build();
    }

    /** Mistral with linear rope scaling. */
    public static ModelConfig mistralLinear() {
        return ModelConfig.builder("mistral").hiddenSize(64).intermediateSize(96).numAttentionHeads(8)
                .numKeyValueHeads(4).numHiddenLayers(2).vocabSize(300).maxPositionEmbeddings(256)
                .ropeScaling(RopeScaling.linear(2.0)).build();
    }

    public static int[] randomIds(int n, int vocab, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        return ids;
    }

    public static CausalLm write(Path dir, ModelConfig config, long seed) {
        RandomModel.write(dir, config, seed);
        return CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
    }
}
