package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/** SwiGLU feed-forward (Shazeer 2020): down(silu(gate(x)) * up(x)), gate and up in one matmul. */
public final class Mlp {

    private final Linear gateUp; // gate_proj | up_proj
    private final Linear down; // down_proj
    private final long intermediate;

    public Mlp(Linear gateUp, Linear down, long intermediate) {
        this.gateUp = gateUp;
        this.down = down;
        this.intermediate = intermediate;
    }

    /** x (B, T, hidden) -> (B, T, hidden). */
    public NDArray forward(NDArray x) {
        NDList gu = Torch.split(gateUp.forward(x), new long[] {intermediate, intermediate}, 2); // (B, T, inter) x 2
        NDArray gate = gu.get(0);
        return down.forward(gate.mul(gate.getNDArrayInternal().sigmoid()).mul(gu.get(1))); // silu(g) = g * sigmoid(g)
    }

    public Linear gateUp() {
        return gateUp;
    }

    public Linear down() {
        return down;
    }
}
