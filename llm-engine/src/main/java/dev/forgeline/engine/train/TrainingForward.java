package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.Step;
import java.nio.LongBuffer;

/**
 * The model's forward over a training {@link Batch}, recording gradients when called inside
 * {@link Autograd}. It is {@link CausalLm#hidden} itself (LoRA adapters included, through
 * {@link dev.forgeline.engine.model.Linear#forward}) run with a {@link Step#packed} step:
 * packed rows restart positions per example and mask attention block-diagonally.
 *
 * <p>Norms and softmax run in the model's dtype when it is float32 or float64, and in float32
 * for 16-bit models; so does the loss's log-softmax here.
 */
public final class TrainingForward {

    private final CausalLm model;
    private final ModelConfig config;
    private final boolean wide; // float32 or float64: compute in place, no upcast

    public TrainingForward(CausalLm model) {
        this.model = model;
        this.config = model.config();
        DataType dtype = model.dataType();
        this.wide = dtype == DataType.FLOAT32 || dtype == DataType.FLOAT64;
    }

    /** Final-norm hidden states (B, T, hidden), created in {@code m}. */
    public NDArray hidden(NDManager m, Batch batch) {
        int b = batch.rows();
        int t = batch.seqLen();
        NDArray ids = m.create(LongBuffer.wrap(toLongs(batch.ids())), new Shape(b, t));
        return model.hidden(ids, Step.packed(m, model, b, t, batch.positions(), batch.segments()));
    }

    /** Logits at every position (B, T, vocab). */
    public NDArray logits(NDManager m, Batch batch) {
        return model.logits(hidden(m, batch));
    }

    /**
     * Sum over the batch's labelled positions of -log p(label) (a scalar). Only labelled rows go
     * through lm_head and the softmax: in SFT most positions are prompt, and lm_head is the
     * widest matrix of a small model.
     */
    public NDArray lossSum(NDManager m, Batch batch) {
        long[] rows = new long[batch.targets()];
        long[] labels = new long[batch.targets()];
        int k = 0;
        for (int i = 0; i < batch.labels().length; i++) {
            if (batch.labels()[i] >= 0) {
                rows[k] = i;
                labels[k++] = batch.labels()[i];
            }
        }
        NDArray hidden = hidden(m, batch).reshape(new Shape((long) batch.rows() * batch.seqLen(), config.hiddenSize()));
        NDArray selected = rows.length == hidden.getShape().get(0)
                ? hidden
                : hidden.get(new NDIndex("{}", m.create(LongBuffer.wrap(rows), new Shape(rows.length)))); // (N, hidden)
        NDArray logits = model.logits(selected); // (N, vocab)
        if (!wide) {
            logits = logits.toType(DataType.FLOAT32, false);
        }
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray picked = logProbs.gather(m.create(LongBuffer.wrap(labels), new Shape(labels.length, 1)), 1); // (N, 1)
        return picked.sum().neg();
    }

    private static long[] toLongs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
