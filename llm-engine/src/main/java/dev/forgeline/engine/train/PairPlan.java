package dev.forgeline.engine.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The order DPO sees its pairs in, as {@link BatchPlan} orders SFT examples: a seeded shuffle
 * per epoch (the same Random(seed * 1000003 + epoch + 1) convention), then micro-batches of
 * pair indices, then optimizer steps of {@code accumulation} micro-batches. A pure function
 * of (seed, step), so a resumed run sees the batches an uninterrupted one would.
 */
final class PairPlan {

    private final int pairs;
    private final int microBatchSize;
    private final int accumulation;
    private final long seed;
    private final int microBatchesPerEpoch;

    PairPlan(int pairs, int microBatchSize, int accumulation, long seed) {
        if (pairs == 0) {
            throw new DatasetException("no preference pairs left after encoding and truncation");
        }
        this.pairs = pairs;
        this.microBatchSize = microBatchSize;
        this.accumulation = accumulation;
        this.seed = seed;
        this.microBatchesPerEpoch = (pairs + microBatchSize - 1) / microBatchSize;
    }

    int stepsPerEpoch() {
        return (microBatchesPerEpoch + accumulation - 1) / accumulation;
    }

    /** Pair indices of each micro-batch of optimizer step {@code step} (0-based, over all epochs). */
    List<int[]> step(int step) {
        int epoch = step / stepsPerEpoch();
        int first = (step % stepsPerEpoch()) * accumulation;
        List<Integer> order = new ArrayList<>(pairs);
        for (int i = 0; i < pairs; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch + 1));
        List<int[]> out = new ArrayList<>();
        for (int mb = first; mb < Math.min(first + accumulation, microBatchesPerEpoch); mb++) {
            int from = mb * microBatchSize;
            out.add(order.subList(from, Math.min(from + microBatchSize, pairs)).stream().mapToInt(Integer::intValue).toArray());
        }
        return out;
    }
}
