package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code y = x W^T + b}, where W may be several projections stacked along the output axis
 * (q|k|v, gate|up). Each native call through DJL costs microseconds whatever its size, so the
 * projections that read the same input run as one matmul; the slice table keeps each
 * projection's identity, so LoRA can still target q_proj or up_proj alone.
 */
public final class Linear {

    private final List<String> names;
    private final long[] outSizes;
    private final long[] offsets; // split points between slices along the output axis
    private final long out; // sum(outSizes)
    private final long in;
    private NDArray weight; // (out, in): nn.Linear's layout, as in the checkpoint; null once released (see packAndRelease)
    private NDArray bias; // (sum(out)) or null
    private boolean sharedWeight; // weight belongs to someone else (a tied lm_head's embedding): never freed here
    private NDArray transposed; // (in, out) view of weight for inference, made on first use
    private NDArray blocks; // (out / BLOCK, in, BLOCK) view of weight for few-row inputs, made on first use
    private NDArray perThread; // (threads, in, out / threads) view of weight for single-row inputs, made on first use
    private boolean noPerThread; // that view does not apply: one thread, uneven split, or not float32 on CPU
    private PackedWeight packed; // a copy of weight in CpuDecodeKernel's tiles, made on first use
    private final Map<String, LoraAdapter> adapters = new LinkedHashMap<>();
    private LoraStack stack; // the adapters as one low-rank product, made on first use
    private boolean adaptersEnabled = true; // false: forward is the base projection (DPO's reference)

    public Linear(List<String> names, long[] outSizes, NDArray weight, NDArray bias) {
        if (names.size() != outSizes.length) {
            throw new IllegalArgumentException("names " + names + " and sizes " + Arrays.toString(outSizes));
        }
        this.names = List.copyOf(names);
        this.outSizes = outSizes.clone();
        this.offsets = new long[outSizes.length - 1];
        long sum = 0;
        for (int i = 0; i < outSizes.length - 1; i++) {
            sum += outSizes[i];
            offsets[i] = sum;
        }
        this.out = sum + outSizes[outSizes.length - 1];
        this.in = weight.getShape().get(1);
        this.weight = weight;
        this.bias = bias;
    }

    public Linear(String name, NDArray weight, NDArray bias) {
        this(List.of(name), new long[] {weight.getShape().get(0)}, weight, bias);
    }

    /**
     * A projection whose weight is another module's array, e.g. a tied lm_head reading the token
     * embedding. Merging an adapter into it gives it a weight of its own (it unties) and leaves
     * the shared array untouched.
     */
    public static Linear sharing(String name, NDArray weight) {
        Linear l = new Linear(name, weight, null);
        l.sharedWeight = true;
        return l;
    }

    /** Whether the weight is still another module's array (see {@link #sharing}). */
    public boolean sharesWeight() {
        return sharedWeight;
    }

    /** Stacks separate projections of the same input into one. */
    public static Linear fused(List<String> names, List<NDArray> weights, List<NDArray> biases) {
        long[] sizes = weights.stream().mapToLong(w -> w.getShape().get(0)).toArray();
        NDArray w = weights.size() == 1 ? weights.get(0) : NDArrays.concat(new NDList(weights), 0);
        NDArray b = null;
        if (biases != null && !biases.isEmpty()) {
            b = biases.size() == 1 ? biases.get(0) : NDArrays.concat(new NDList(biases), 0);
        }
        return new Linear(names, sizes, w, b);
    }

    /** x (..., in) -> (..., out). */
    public NDArray forward(NDArray x) {
        requireTensor();
        if (adapters.isEmpty() || !adaptersEnabled) {
            return JniUtils.isGradMode()
                    ? ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow()
                    : inference(x);
        }
        // x W^T + b + delta as one addmm (beta = 1), which adds delta while writing the product
        // instead of in another pass over (N, out).
        Shape shape = x.getShape();
        NDArray rows = x.reshape(-1, inFeatures()); // (N, in)
        NDArray delta = stack().delta(rows); // (N, out)
        if (bias != null) {
            delta = delta.add(bias);
        }
        NDArray y = ai.djl.nn.core.Linear.linear(rows, weight, delta).singletonOrThrow();
        return y.reshape(shape.slice(0, shape.dimension() - 1).add(outFeatures()));
    }

    private LoraStack stack() {
        if (stack == null) {
            stack = new LoraStack(names.stream().map(adapters::get).toList(), outSizes);
        }
        return stack;
    }

    private void dropStack() {
        if (stack != null) {
            stack.close();
            stack = null;
        }
    }

    /*
     * MKL's fp32 GEMM, which libtorch calls on CPU, is slow for few input rows. One row goes
     * to a single-threaded GEMV, so the product is cut into one block of output features per
     * thread instead, which torch runs as a batched matmul spread over the threads. For 4 to 15
     * rows, blocks of 64 features did best. 16 rows and more keep the plain matmul.
     * Measurements: docs/performance.md.
     */
    private static final long BLOCK = 64;
    private static final long FEW_ROWS_MIN = 4;
    private static final long FEW_ROWS_MAX = 15;

    /*
     * Inference reads cached views of the weight: W^T, which nn.Linear would otherwise build
     * with one more native call per projection and token, and the blocked views. They are
     * made outside autograd, so training (which records a graph) takes the plain path.
     */
    private NDArray inference(NDArray x) {
        Shape shape = x.getShape();
        long in = shape.tail();
        long rows = shape.size() / in;
        if (rows == 1 && perThread() != null) {
            NDArray y = x.matMul(perThread).reshape(shape.slice(0, shape.dimension() - 1).add(outFeatures()));
            return bias == null ? y : y.add(bias);
        }
        if (rows >= FEW_ROWS_MIN && rows <= FEW_ROWS_MAX && outFeatures() % BLOCK == 0 && cpuFloat32()) {
            return blockwise(x.reshape(rows, in)).reshape(shape.slice(0, shape.dimension() - 1).add(outFeatures()));
        }
        NDArray y = x.matMul(transposed());
        return bias == null ? y : y.add(bias);
    }

    /**
     * rows (n, in) W^T without the bias, for {@link CpuDecodeKernel}, which reads the values in
     * place, so blocked products need no copy back to (n, out): (out / 64, n, 64) from 4 rows
     * (up to the kernel's 16, where the blocks beat the per-thread view), (threads, n, out /
     * threads) through the per-thread view, else (n, out).
     */
    NDArray timesWeight(NDArray rows, int n) {
        requireTensor();
        if (n >= FEW_ROWS_MIN && outFeatures() % BLOCK == 0 && cpuFloat32()) {
            return rows.matMul(blocks());
        }
        return rows.matMul(perThread() != null ? perThread : transposed());
    }

    /** (in, out) view of the weight, made on first use. */
    private NDArray transposed() {
        if (transposed == null) {
            transposed = weight.transpose();
        }
        return transposed;
    }

    /** The blocked views are tuned for MKL's fp32 kernels. */
    private boolean cpuFloat32() {
        return weight.getDataType() == DataType.FLOAT32 && "cpu".equals(weight.getDevice().getDeviceType());
    }

    /**
     * The per-thread view, or null where it does not apply (one thread, out features that do
     * not split evenly, or not float32 on CPU). x (..., 1, in) times it is (threads, 1,
     * out / threads): y in order.
     */
    private NDArray perThread() {
        if (perThread == null && !noPerThread) {
            int threads = JniUtils.getNumThreads();
            long out = outFeatures();
            if (threads < 2 || out % threads != 0 || !cpuFloat32()) {
                noPerThread = true;
                return null;
            }
            NDArray stacked = weight.reshape(threads, out / threads, inFeatures());
            perThread = stacked.transpose(0, 2, 1);
            stacked.close(); // a view: closing the handle leaves the storage to the weight
        }
        return perThread;
    }

    /** x (rows, in) -> (rows, out) as (out / 64) matmuls of (rows, in) x (in, 64). */
    private NDArray blockwise(NDArray x) {
        long rows = x.getShape().get(0);
        NDArray y = x.matMul(blocks()) // (out / 64, rows, 64)
                .transpose(1, 0, 2)
                .reshape(rows, outFeatures());
        return bias == null ? y : y.add(bias);
    }

    /** (out / 64, in, 64) view of the weight, made on first use. */
    private NDArray blocks() {
        if (blocks == null) {
            NDArray stacked = weight.reshape(outFeatures() / BLOCK, BLOCK, inFeatures());
            blocks = stacked.transpose(0, 2, 1);
            stacked.close(); // a view: closing the handle leaves the storage to the weight
        }
        return blocks;
    }

    public long outFeatures() {
        return out;
    }

    public void attach(String name, LoraAdapter adapter) {
        requireTensor();
        int i = indexOf(name);
        if (adapter.a().getShape().get(1) != inFeatures() || adapter.b().getShape().get(0) != outSizes[i]) {
            throw new IllegalArgumentException("LoRA for " + name + " has A " + adapter.a().getShape() + " and B "
                    + adapter.b().getShape() + "; the projection maps " + inFeatures() + " -> " + outSizes[i]);
        }
        adapters.put(name, adapter);
        dropStack();
    }

    public LoraAdapter detach(String name) {
        dropStack();
        return adapters.remove(name);
    }

    /**
     * Switches the attached adapters off (forward computes the base projection alone, exactly as
     * without adapters) or back on; they stay attached and keep their values.
     */
    public void setAdaptersEnabled(boolean enabled) {
        this.adaptersEnabled = enabled;
    }

    public boolean adaptersEnabled() {
        return adaptersEnabled;
    }

    public Map<String, LoraAdapter> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    /**
     * Folds every attached adapter into the weight and detaches it (LoRA merge). The merged
     * weight is a new array; the old one is freed unless it is shared ({@link #sharing}), in
     * which case this projection now owns its own copy and the sharer keeps the original.
     */
    public void mergeAdapters() {
        if (adapters.isEmpty()) {
            return;
        }
        requireTensor();
        try (NoGradient ignored = NoGradient.enter(); NDManager scratch = weight.getManager().newSubManager()) {
            NDList merged = new NDList(names.size());
            for (int i = 0; i < names.size(); i++) {
                NDArray rows = names.size() == 1 ? weight : rows(weight, names.get(i), scratch);
                LoraAdapter adapter = adapters.get(names.get(i));
                if (adapter != null) {
                    NDArray delta = adapter.denseDelta();
                    delta.attach(scratch);
                    rows = rows.add(delta);
                    rows.attach(scratch);
                }
                merged.add(rows);
            }
            NDArray w = merged.size() == 1 ? merged.get(0).duplicate() : NDArrays.concat(merged, 0);
            w.attach(weight.getManager());
            if (!sharedWeight) {
                weight.close();
            }
            weight = w;
            dropViews();
            sharedWeight = false;
        }
        dropStack();
        adapters.clear();
    }

    /** One projection's rows of the stacked weight (a view), for export under its own name. */
    public NDArray weight(String name, NDManager views) {
        requireTensor();
        return rows(weight, name, views);
    }

    public NDArray bias(String name, NDManager views) {
        return bias == null ? null : rows(bias, name, views);
    }

    private NDArray rows(NDArray stacked, String name, NDManager views) {
        int i = indexOf(name);
        long start = i == 0 ? 0 : offsets[i - 1];
        return stacked.get(views, new NDIndex().addSliceDim(start, start + outSizes[i]));
    }

    /** Freezes or unfreezes the base weight (full fine-tuning trains it; LoRA leaves it frozen). */
    public void setTrainable(boolean trainable) {
        requireTensor();
        dropPacked();
        weight.setRequiresGradient(trainable);
        if (bias != null) {
            bias.setRequiresGradient(trainable);
        }
    }

    /** The weight tensor (out, in), or null once {@link #packAndRelease} freed it. */
    public NDArray weight() {
        return weight;
    }

    public NDArray bias() {
        return bias;
    }

    public List<String> names() {
        return names;
    }

    public long outFeatures(String name) {
        return outSizes[indexOf(name)];
    }

    public long inFeatures() {
        return in;
    }

    /** The copy of the weight that {@link CpuDecodeKernel} packed for its products, or null. */
    synchronized PackedWeight packed() {
        return packed;
    }

    /** Keeps {@code copy} unless a copy is already kept (two decoders packed at once); returns the one kept. */
    synchronized PackedWeight keepPacked(PackedWeight copy) {
        if (packed == null) {
            packed = copy;
        }
        return packed;
    }

    /**
     * Keeps the weight only as {@link CpuDecodeKernel}'s tiles and frees libtorch's copy, unless it
     * is shared (the caller frees the embedding of a tied head). For a model loaded with
     * {@link WeightLayout#PACKED}: no tensor path can run this projection afterwards.
     */
    synchronized void packAndRelease() {
        packed = PackedWeight.of(TensorMemory.view(weight), Math.toIntExact(out), Math.toIntExact(in));
        if (!sharedWeight) {
            weight.close();
        }
        weight = null;
    }

    private void requireTensor() {
        if (weight == null) {
            throw new IllegalStateException(names + " is held only in the CPU kernel's packed tiles (the model was loaded "
                    + "with WeightLayout.PACKED, for serving): load it with WeightLayout.TENSORS to train, merge or run the tensor path");
        }
    }

    /**
     * Forgets the packed copy: the weight is about to change in place (training), and the kernel
     * would otherwise read the old values.
     */
    synchronized void dropPacked() {
        packed = null;
    }

    private void dropViews() {
        dropPacked();
        if (perThread != null) {
            perThread.close();
            perThread = null;
        }
        noPerThread = false;
        if (blocks != null) {
            blocks.close();
            blocks = null;
        }
        if (transposed != null) {
            transposed.close();
            transposed = null;
        }
    }

    private int indexOf(String name) {
        int i = names.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no projection '" + name + "' in " + names);
        }
        return i;
    }
}
