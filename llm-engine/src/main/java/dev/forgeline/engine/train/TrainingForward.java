package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.DecoderLayer;
import dev.forgeline.engine.model.Linear;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The model's forward over a training {@link Batch}, recording gradients when called inside
 * {@link Autograd}. It is {@link CausalLm#hidden} itself (LoRA adapters included, through
 * {@link dev.forgeline.engine.model.Linear#forward}) run with a {@link Step#packed} step:
 * packed rows restart positions per example and mask attention block-diagonally.
 *
 * <p>Norms and softmax run in the model's dtype when it is float32 or float64, and in float32
 * for 16-bit models; so does the loss's log-softmax here.
 *
 * <p>With gradient checkpointing, a recorded forward keeps only each decoder layer's input: the
 * trunk runs without a graph, and the loss's graph starts at the last layer's output. After the
 * loss's backward, {@link #backwardThroughLayers} runs each layer again from its input, last
 * first, with a graph, and back-propagates the gradient that arrived at its output, {@code
 * sum(layer(x) * dL/dy)} giving the layer's parameters and input their share. One layer's
 * activations are held at a time, for a second forward of the trunk.
 */
public final class TrainingForward {

    private final CausalLm model;
    private final ModelConfig config;
    private final boolean wide; // float32 or float64: compute in place, no upcast
    private final boolean checkpointed;
    private final List<Trunk> pending = new ArrayList<>(); // recorded checkpointed forwards not yet back-propagated

    /** A checkpointed forward of the trunk: the ids, the step, and each layer's input; {@code top} is the last layer's output. */
    private record Trunk(NDManager m, NDArray ids, Step step, List<NDArray> inputs, NDArray top, long seed) {}

    public TrainingForward(CausalLm model) {
        this(model, false);
    }

    /** {@code checkpointed}: gradient checkpointing, see the class comment. */
    public TrainingForward(CausalLm model, boolean checkpointed) {
        this.model = model;
        this.config = model.config();
        DataType dtype = model.dataType();
        this.wide = dtype == DataType.FLOAT32 || dtype == DataType.FLOAT64;
        this.checkpointed = checkpointed;
    }

    /** Final-norm hidden states (B, T, hidden), created in {@code m}. */
    public NDArray hidden(NDManager m, Batch batch) {
        int b = batch.rows();
        int t = batch.seqLen();
        NDArray ids = m.create(LongBuffer.wrap(toLongs(batch.ids())), new Shape(b, t));
        Step step = Step.packed(m, model, b, t, batch.positions(), batch.segments());
        if (!checkpointed || !JniUtils.isGradMode()) {
            return model.hidden(ids, step);
        }
        // Each layer's dropout draws from a seed of its own, so that its second run draws the same masks.
        long seed = m.randomInteger(0, Integer.MAX_VALUE, new Shape(1), DataType.INT64).getLong();
        List<NDArray> inputs = new ArrayList<>();
        NDArray x;
        try (NoGradient ignored = NoGradient.enter()) {
            x = model.embed(ids);
            for (int l = 0; l < model.layers().size(); l++) {
                inputs.add(x);
                x = layerWithoutKeeping(m, l, x, step, seed);
            }
        }
        NDArray top = x.stopGradient();
        top.setRequiresGradient(true);
        pending.add(new Trunk(m, ids, step, inputs, top, seed));
        return model.norm().forward(top);
    }

    /**
     * -1 when the embedding trains, else the lowest decoder layer with a trained tensor (a weight,
     * a bias, a norm or a LoRA adapter), else the number of layers.
     */
    private int lowestTrained() {
        if (model.embedTokens().hasGradient()) {
            return -1;
        }
        List<DecoderLayer> layers = model.layers();
        for (int l = 0; l < layers.size(); l++) {
            DecoderLayer layer = layers.get(l);
            List<Linear> linears = List.of(layer.attention().qkv(), layer.attention().output(), layer.mlp().gateUp(),
                    layer.mlp().down());
            boolean trains = layer.inputNorm().weight().hasGradient() || layer.postAttentionNorm().weight().hasGradient()
                    || linears.stream().anyMatch(p -> p.weight().hasGradient() || p.bias() != null && p.bias().hasGradient()
                            || p.adapters().values().stream().anyMatch(a -> a.a().hasGradient() || a.b().hasGradient()));
            if (trains) {
                return l;
            }
        }
        return layers.size();
    }

    /** Layer l on x, its intermediates freed at once: only the output stays, in {@code m}. */
    private NDArray layerWithoutKeeping(NDManager m, int l, NDArray x, Step step, long seed) {
        try (NDManager layer = m.newSubManager()) {
            NDArray in = x.stopGradient();
            in.attach(layer);
            NDArray y = seededLayer(l, in, step, seed);
            y.attach(m);
            return y;
        }
    }

    /** Layer l on x, its dropout drawing from seed + l: the first run and the rerun draw the same masks. */
    private NDArray seededLayer(int l, NDArray x, Step step, long seed) {
        JniUtils.setSeed(seed + l);
        return model.layers().get(l).forward(x, step);
    }

    /**
     * With gradient checkpointing: back-propagates, through the decoder layers and the embedding,
     * the gradients the last backward left at the outputs of the trunks recorded since the last
     * call (a no-op without checkpointing). Call it inside {@link Autograd}, after the loss's backward.
     */
    public void backwardThroughLayers() {
        int bottom = lowestTrained(); // layers below it need no gradient: the backward stops there
        for (int i = pending.size() - 1; i >= 0; i--) {
            Trunk trunk = pending.get(i);
            NDArray gradient = trunk.top().getGradient(); // dL/dy of the last layer
            for (int l = model.layers().size() - 1; l >= Math.max(bottom, 0); l--) {
                try (NDManager layer = trunk.m().newSubManager()) {
                    NDArray in = trunk.inputs().get(l).stopGradient();
                    in.attach(layer);
                    in.setRequiresGradient(l > bottom);
                    Autograd.backward(seededLayer(l, in, trunk.step(), trunk.seed()).mul(gradient).sum());
                    gradient.close();
                    gradient = l > bottom ? in.getGradient() : null;
                    if (gradient != null) {
                        gradient.attach(trunk.m());
                    }
                }
            }
            if (bottom < 0) {
                Autograd.backward(model.embed(trunk.ids()).mul(gradient).sum());
            }
            trunk.inputs().forEach(NDArray::close);
        }
        pending.clear();
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
        boolean frozenHead = model.lmHead().adapters().isEmpty() && !model.lmHead().weight().hasGradient();
        return lossSum(m, batch, frozenHead ? CHUNK_LOGITS : 0);
    }

    /**
     * {@code logitsPerBlock > 0}: the frozen-head path of {@link #chunkedLossSum} with blocks of
     * about that many logits; 0 runs the head under autograd.
     */
    NDArray lossSum(NDManager m, Batch batch, long logitsPerBlock) {
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
        if (logitsPerBlock > 0) {
            return chunkedLossSum(m, selected, labels, logitsPerBlock);
        }
        NDArray logits = model.logits(selected); // (N, vocab)
        if (!wide) {
            logits = logits.toType(DataType.FLOAT32, false);
        }
        NDArray logProbs = logits.logSoftmax(-1);
        NDArray picked = logProbs.gather(m.create(LongBuffer.wrap(labels), new Shape(labels.length, 1)), 1); // (N, 1)
        return picked.sum().neg();
    }

    /*
     * Under autograd, N x vocab logits cost four arrays that size (logits, log-softmax, and
     * their gradients): 200 MB each for 1024 tokens of a 49k vocabulary, freshly paged in on
     * every step. With lm_head frozen the head needs no graph, only dL/dh = (softmax(h W^T) -
     * onehot(y)) W, which blocks of rows compute without recording. The returned scalar has the
     * loss as its value and, through the term sum(h * dL/dh) minus its own detached value, that
     * gradient for the trunk.
     *
     * Each block reads all of W twice, so blocks want many rows (few rows make the head GEMMs
     * skinny and the step slower; docs/performance.md), but the block's logits must
     * stay under glibc's 32 MB mmap ceiling: larger ones are mapped and unmapped on every block,
     * and paged in afresh. 16 MB is 85 rows of a 49k vocabulary.
     */
    private static final long CHUNK_LOGITS = 1L << 22; // logits per block of rows: 16 MB in float32

    private NDArray chunkedLossSum(NDManager m, NDArray hidden, long[] labels, long logitsPerBlock) {
        if (labels.length == 0) {
            return hidden.sum().mul(0); // nothing to predict: zero loss, zero gradient
        }
        FrozenHead head = frozenHead(m, hidden, labels, logitsPerBlock, true);
        double loss = -head.logProbs().toType(DataType.FLOAT64, false).sum().getDouble();
        NDArray surrogate = hidden.mul(head.gradient()).sum(); // its gradient with respect to hidden is d(sum log p)/dh
        return surrogate.stopGradient().sub(surrogate).add(m.create(loss).toType(surrogate.getDataType(), false));
    }

    /**
     * The frozen head over labelled rows, in blocks, without a graph.
     *
     * @param logProbs (N) log p(label) of each row
     * @param gradient (N, hidden) d log p(label) / dh = (onehot(y) - softmax(h W^T)) W; null when not asked for
     */
    private record FrozenHead(NDArray logProbs, NDArray gradient) {}

    private FrozenHead frozenHead(NDManager m, NDArray hidden, long[] labels, long logitsPerBlock, boolean gradient) {
        NDArray w = model.lmHead().weight(); // (vocab, hidden)
        long n = labels.length;
        if (n == 0) {
            return new FrozenHead(m.zeros(new Shape(0), wide ? model.dataType() : DataType.FLOAT32),
                    gradient ? hidden.stopGradient().zerosLike() : null);
        }
        long rowsPerChunk = Math.max(1, logitsPerBlock / config.vocabSize());
        NDList values = new NDList();
        NDList grads = new NDList();
        try (NoGradient ignored = NoGradient.enter()) {
            NDArray h = hidden.stopGradient();
            for (long start = 0; start < n; start += rowsPerChunk) {
                long end = Math.min(n, start + rowsPerChunk);
                NDArray y = m.create(Arrays.copyOfRange(labels, (int) start, (int) end));
                try (NDManager block = m.newSubManager()) {
                    NDArray logits = model.logits(h.get(block, new NDIndex().addSliceDim(start, end))); // (rows, vocab)
                    NDArray logProbs = (wide ? logits : logits.toType(DataType.FLOAT32, false)).logSoftmax(-1);
                    NDArray picked = logProbs.gather(y.reshape(end - start, 1), 1).reshape(end - start); // (rows)
                    picked.attach(m);
                    values.add(picked);
                    if (gradient) {
                        NDArray probs = logProbs.exp();
                        NDArray p = wide ? probs : probs.toType(w.getDataType(), false);
                        NDArray g = w.get(block, new NDIndex("{}", y)).sub(p.matMul(w)); // (rows, hidden): (onehot(y) - p) W
                        g.attach(m);
                        grads.add(g);
                    }
                }
            }
        }
        return new FrozenHead(concat(values), gradient ? concat(grads) : null);
    }

    private static NDArray concat(NDList parts) {
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
    }

    /**
     * log p(row's labels) per row: the sum over each row's labelled positions of log p(label), a
     * (rows) array, with the graph when recording. One example per row (no packing): DPO's
     * log pi(y|x) of each reply. Only labelled positions go through lm_head; a frozen head runs
     * in blocks without a graph, as in {@link #lossSum}, and hands the trunk d log p / dh.
     */
    public NDArray sequenceLogProbs(NDManager m, Batch batch) {
        boolean frozenHead = model.lmHead().adapters().isEmpty() && !model.lmHead().weight().hasGradient();
        return sequenceLogProbs(m, batch, frozenHead ? CHUNK_LOGITS : 0);
    }

    /** {@code logitsPerBlock > 0}: the frozen-head path in blocks of about that many logits; 0 runs the head under autograd. */
    NDArray sequenceLogProbs(NDManager m, Batch batch, long logitsPerBlock) {
        int n = batch.targets();
        long[] positions = new long[n];
        long[] labels = new long[n];
        double[] member = new double[batch.rows() * n]; // (rows, N): 1 where label k belongs to the row
        int k = 0;
        for (int i = 0; i < batch.labels().length; i++) {
            if (batch.labels()[i] >= 0) {
                member[(i / batch.seqLen()) * n + k] = 1;
                positions[k] = i;
                labels[k++] = batch.labels()[i];
            }
        }
        NDArray hidden = hidden(m, batch).reshape(new Shape((long) batch.rows() * batch.seqLen(), config.hiddenSize()));
        NDArray selected = hidden.get(new NDIndex("{}", m.create(LongBuffer.wrap(positions), new Shape(n)))); // (N, hidden)
        NDArray picked; // (N)
        if (logitsPerBlock > 0) {
            boolean recording = JniUtils.isGradMode();
            FrozenHead head = frozenHead(m, selected, labels, logitsPerBlock, recording);
            picked = head.logProbs();
            if (recording) { // value log p, gradient d log p / dh through the product's own gradient
                NDArray surrogate = selected.mul(head.gradient()).sum(new int[] {1}); // (N)
                picked = surrogate.sub(surrogate.stopGradient()).toType(picked.getDataType(), false).add(picked);
            }
        } else {
            NDArray logits = model.logits(selected); // (N, vocab)
            if (!wide) {
                logits = logits.toType(DataType.FLOAT32, false);
            }
            picked = logits.logSoftmax(-1).gather(m.create(LongBuffer.wrap(labels), new Shape(n, 1)), 1).reshape(n);
        }
        NDArray rows = m.create(member, new Shape(batch.rows(), n)).toType(picked.getDataType(), false);
        return rows.matMul(picked.reshape(n, 1)).reshape(batch.rows()); // (rows)
    }

    private static long[] toLongs(int[] ints) {
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }
}
