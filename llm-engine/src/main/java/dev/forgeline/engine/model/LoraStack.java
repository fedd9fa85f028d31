package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.List;

/**
 * The LoRA updates of every slice of one projection (q|k|v, gate|up, or a single one) as one
 * low-rank product. With A = [A_q; A_k; A_v] stacked (R = r_q + r_k + r_v rows) and B the
 * block-diagonal of B_q, B_k, B_v:
 *
 * <pre>
 *   low   = (x A^T) * scale    (N, R)    each adapter's alpha / r on its own columns
 *   delta = low B^T            (N, out)  each slice's update lands in its own output columns
 * </pre>
 *
 * Two matmuls per projection instead of two per adapter, and no split, add and concat of the
 * (N, out) output (nor their mirror images in the backward pass). A slice without an adapter has
 * zero rows in B. (The timing against one product pair per adapter: docs/performance.md, LoRA.)
 */
final class LoraStack implements AutoCloseable {

    private final LoraAdapter[] adapters; // slice order; null where a slice has no adapter
    private final long[] before; // per slice: columns of its block row of B left of its adapter's
    private final long total; // R
    private final NDManager constants; // scale and zero rows: constants of the graph
    private final NDArray scale; // (R)
    private final NDArray[] absent; // per slice without an adapter: its zero rows (out_i, R)

    LoraStack(List<LoraAdapter> slices, long[] outSizes) {
        this.adapters = slices.toArray(new LoraAdapter[0]);
        LoraAdapter any = slices.stream().filter(a -> a != null).findFirst().orElseThrow();
        this.constants = any.a().getManager().newSubManager();
        this.before = new long[adapters.length];
        long r = 0;
        for (int i = 0; i < adapters.length; i++) {
            before[i] = r;
            r += adapters[i] == null ? 0 : adapters[i].rank();
        }
        this.total = r;
        float[] scales = new float[(int) total];
        this.absent = new NDArray[adapters.length];
        for (int i = 0; i < adapters.length; i++) {
            LoraAdapter a = adapters[i];
            if (a == null) {
                absent[i] = constants.zeros(new Shape(outSizes[i], total), any.b().getDataType());
            } else {
                Arrays.fill(scales, (int) before[i], (int) (before[i] + a.rank()), a.scaleValue());
            }
        }
        this.scale = constants.create(scales).toType(any.a().getDataType(), false);
    }

    /** x (N, in) -> (N, out): the sum of every slice's update, in its columns. */
    NDArray delta(NDArray x) {
        return ai.djl.nn.core.Linear.linear(low(x), blockDiagonalB(x.getManager())).singletonOrThrow();
    }

    /** (N, R), scaled. Dropout draws one mask per adapter, as peft does, so those adapters run apart. */
    private NDArray low(NDArray x) {
        boolean dropout = Arrays.stream(adapters).anyMatch(adapter -> adapter != null && adapter.dropsOut());
        NDList parts = new NDList(adapters.length); // each adapter's low code with dropout, else its A
        for (LoraAdapter adapter : adapters) {
            if (adapter != null) {
                parts.add(dropout ? adapter.low(x) : adapter.a());
            }
        }
        if (dropout) {
            return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 1);
        }
        NDArray stackedA = parts.size() == 1 ? parts.get(0) : step(NDArrays.concat(parts, 0), x.getManager()); // (R, in)
        return ai.djl.nn.core.Linear.linear(x, stackedA).singletonOrThrow().mul(scale);
    }

    /** (out, R): each slice's B padded with zeros to its own columns. */
    private NDArray blockDiagonalB(NDManager step) {
        if (adapters.length == 1) {
            return adapters[0].b();
        }
        NDList rows = new NDList(adapters.length);
        for (int i = 0; i < adapters.length; i++) {
            LoraAdapter a = adapters[i];
            rows.add(a == null
                    ? absent[i]
                    : step(a.b().pad(new Shape(before[i], total - before[i] - a.rank()), 0), step));
        }
        return step(NDArrays.concat(rows, 0), step);
    }

    /*
     * A concat or pad belongs to the manager of its first operand, here a model-lifetime array:
     * moved to the step's manager it is freed with the step's other arrays instead of piling up.
     */
    private static NDArray step(NDArray array, NDManager step) {
        array.attach(step);
        return array;
    }

    @Override
    public void close() {
        constants.close();
    }
}
