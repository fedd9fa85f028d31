package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.model.NoGradient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter, AdamW), step for step as
 * {@code torch.optim.AdamW}:
 * <pre>
 *   p <- p (1 - lr wd)
 *   m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 * State (m, v, t) lives beside the parameters and is saved with checkpoints, so a resumed run
 * continues the same trajectory.
 */
public final class AdamW {

    private final List<TrainableParameter> parameters;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private long step;

    public AdamW(List<TrainableParameter> parameters, double weightDecay) {
        this(parameters, 0.9, 0.999, 1e-8, weightDecay);
    }

    public AdamW(List<TrainableParameter> parameters, double beta1, double beta2, double eps, double weightDecay) {
        this.parameters = List.copyOf(parameters);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        try (NoGradient ignored = NoGradient.enter()) {
            for (TrainableParameter p : parameters) {
                NDArray value = p.value();
                m.put(p.name(), value.getManager().zeros(value.getShape(), value.getDataType()));
                v.put(p.name(), value.getManager().zeros(value.getShape(), value.getDataType()));
            }
        }
    }

    /** One update with the gradients accumulated in the parameters (already clipped). */
    public void step(double lr) {
        step++;
        double bias1 = 1 - Math.pow(beta1, step);
        double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        try (NoGradient ignored = NoGradient.enter()) {
            for (TrainableParameter p : parameters) {
                NDArray value = p.value();
                try (NDManager scratch = value.getManager().newSubManager()) {
                    NDArray g = value.getGradient();
                    g.attach(scratch);
                    if (p.decay() && weightDecay > 0) {
                        value.muli(1 - lr * weightDecay);
                    }
                    NDArray mi = m.get(p.name());
                    NDArray vi = v.get(p.name());
                    mi.muli(beta1).addi(g.mul(1 - beta1));
                    vi.muli(beta2).addi(g.square().muli(1 - beta2));
                    NDArray denom = vi.sqrt().divi(bias2Sqrt).addi(eps);
                    value.subi(mi.div(denom).muli(lr / bias1));
                }
            }
        }
    }

    public long stepCount() {
        return step;
    }

    /** m and v under {@code m.<name>} and {@code v.<name>}: the arrays themselves, for saving. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> s = new LinkedHashMap<>();
        m.forEach((k, a) -> s.put("m." + k, a));
        v.forEach((k, a) -> s.put("v." + k, a));
        return s;
    }

    /** Restores m, v and t saved by {@link #state()} (values copied into the existing arrays). */
    public void load(Map<String, NDArray> state, long stepCount) {
        List<String> missing = new ArrayList<>();
        for (String k : m.keySet()) {
            if (!state.containsKey("m." + k) || !state.containsKey("v." + k)) {
                missing.add(k);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("optimizer state lacks " + missing);
        }
        try (NoGradient ignored = NoGradient.enter()) {
            m.forEach((k, a) -> state.get("m." + k).copyTo(a));
            v.forEach((k, a) -> state.get("v." + k).copyTo(a));
        }
        this.step = stepCount;
    }

    public List<TrainableParameter> parameters() {
        return parameters;
    }
}
