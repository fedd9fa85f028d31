package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;

/** One pre-norm transformer block: x + attn(norm(x)), then h + mlp(norm(h)). */
public final class DecoderLayer {

    private final RmsNorm inputNorm;
    private final Attention attention;
    private final RmsNorm postAttentionNorm;
    private final Mlp mlp;

    public DecoderLayer(RmsNorm inputNorm, Attention attention, RmsNorm postAttentionNorm, Mlp mlp) {
        this.inputNorm = inputNorm;
        this.attention = attention;
        this.postAttentionNorm = postAttentionNorm;
        this.mlp = mlp;
    }

    /** x (B, T, hidden) -> (B, T, hidden). */
    public NDArray forward(NDArray x, Step step) {
        NDArray h = x.add(attention.forward(inputNorm.forward(x), step));
        return h.add(mlp.forward(postAttentionNorm.forward(h)));
    }

    public RmsNorm inputNorm() {
        return inputNorm;
    }

    public Attention attention() {
        return attention;
    }

    public RmsNorm postAttentionNorm() {
        return postAttentionNorm;
    }

    public Mlp mlp() {
        return mlp;
    }
}
