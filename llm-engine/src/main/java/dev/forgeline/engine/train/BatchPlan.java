package dev.forgeline.engine.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The order examples are seen in: rows (examples, or with packing several examples) packed
 * once from a seeded shuffle, the rows reshuffled each epoch, then micro-batches, then optimizer steps of {@code accumulation} micro-batches. Everything is a pure
 * function of (seed, epoch), so a resumed run finds its data position from the step number
 * alone and sees the same batches an uninterrupted run would.
 */
public final class BatchPlan {

    private final List<List<EncodedExample>> rows; // packed once; each epoch shuffles the rows
    private final int microBatchSize;
    private final int accumulation;
    private final int maxLength;
    private final boolean packing;
    private final long seed;
    private final int padId;
    private final int microBatchesPerEpoch;

    public BatchPlan(List<EncodedExample> examples, int microBatchSize, int accumulation, int maxLength,
            boolean packing, long seed, int padId) {
        if (examples.isEmpty()) {
            throw new DatasetException("no training examples left after encoding and truncation");
        }
        if (microBatchSize < 1 || accumulation < 1) {
            throw new IllegalArgumentException("micro-batch size and accumulation must be >= 1");
        }
        this.microBatchSize = microBatchSize;
        this.accumulation = accumulation;
        this.maxLength = maxLength;
        this.packing = packing;
        this.seed = seed;
        this.padId = padId;
        List<EncodedExample> shuffled = new ArrayList<>(examples);
        Collections.shuffle(shuffled, new Random(seed));
        this.rows = List.copyOf(pack(shuffled));
        this.microBatchesPerEpoch = (rows.size() + microBatchSize - 1) / microBatchSize;
    }

    /** Optimizer steps per epoch; the last may hold fewer micro-batches. */
    public int stepsPerEpoch() {
        return (microBatchesPerEpoch + accumulation - 1) / accumulation;
    }

    public int microBatchesPerEpoch() {
        return microBatchesPerEpoch;
    }

    /** The micro-batches of optimizer step {@code step} (0-based, counted over all epochs). */
    public List<Batch> step(int step) {
        int epoch = step / stepsPerEpoch();
        int first = (step % stepsPerEpoch()) * accumulation;
        List<List<EncodedExample>> rows = order(epoch);
        List<Batch> out = new ArrayList<>();
        for (int mb = first; mb < Math.min(first + accumulation, microBatchesPerEpoch); mb++) {
            int from = mb * microBatchSize;
            out.add(batch(rows.subList(from, Math.min(from + microBatchSize, rows.size()))));
        }
        return out;
    }

    /** Every example once, in order, in batches of {@code size} (held-out evaluation, no packing). */
    public static List<Batch> sequential(List<EncodedExample> examples, int size, int padId) {
        List<Batch> out = new ArrayList<>();
        for (int from = 0; from < examples.size(); from += size) {
            List<List<EncodedExample>> rows = new ArrayList<>();
            for (EncodedExample e : examples.subList(from, Math.min(from + size, examples.size()))) {
                rows.add(List.of(e));
            }
            out.add(batch(rows, padId));
        }
        return out;
    }

    private List<List<EncodedExample>> order(int epoch) {
        List<List<EncodedExample>> shuffled = new ArrayList<>(rows);
        // java.util.Random's sequence is specified, so the order is the same on every JVM.
        Collections.shuffle(shuffled, new Random(seed * 1_000_003L + epoch + 1));
        return shuffled;
    }

    /**
     * One example per row, or with packing first-fit into rows of maxLength. Packing happens
     * once, so every epoch has the same number of rows and steps.
     */
    private List<List<EncodedExample>> pack(List<EncodedExample> ordered) {
        List<List<EncodedExample>> rows = new ArrayList<>();
        if (!packing) {
            ordered.forEach(e -> rows.add(List.of(e)));
            return rows;
        }
        List<Integer> free = new ArrayList<>();
        for (EncodedExample e : ordered) {
            int r = 0;
            while (r < rows.size() && free.get(r) < e.length()) {
                r++;
            }
            if (r == rows.size()) {
                rows.add(new ArrayList<>());
                free.add(maxLength);
            }
            rows.get(r).add(e);
            free.set(r, free.get(r) - e.length());
        }
        return rows;
    }

    private Batch batch(List<List<EncodedExample>> rows) {
        return batch(rows, padId);
    }

    static Batch batch(List<List<EncodedExample>> rows, int padId) {
        int seqLen = 0;
        for (List<EncodedExample> row : rows) {
            seqLen = Math.max(seqLen, row.stream().mapToInt(EncodedExample::length).sum());
        }
        int n = rows.size() * seqLen;
        int[] ids = new int[n];
        int[] positions = new int[n];
        int[] segments = new int[n];
        int[] labels = new int[n];
        java.util.Arrays.fill(ids, padId);
        java.util.Arrays.fill(segments, -1);
        java.util.Arrays.fill(labels, -1);
        int targets = 0;
        for (int b = 0; b < rows.size(); b++) {
            int t = b * seqLen;
            int segment = 0;
            for (EncodedExample e : rows.get(b)) {
                for (int i = 0; i < e.length(); i++) {
                    ids[t + i] = e.ids()[i];
                    positions[t + i] = i;
                    segments[t + i] = segment;
                    if (i + 1 < e.length() && e.target()[i + 1]) {
                        labels[t + i] = e.ids()[i + 1];
                        targets++;
                    }
                }
                t += e.length();
                segment++;
            }
        }
        return new Batch(rows.size(), seqLen, ids, positions, segments, labels, targets);
    }
}
