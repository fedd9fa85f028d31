package dev.forgeline.engine.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;

/**
 * The machine's copy bandwidth: one thread per core, each copying between its own two
 * preallocated arrays at the same time; bytes read plus bytes written over the wall time of the
 * slowest thread, best of several rounds. Decoding one token reads every weight once, so this
 * bounds single-stream decode speed.
 */
public final class MemoryBandwidth {

    private MemoryBandwidth() {}

    /** Bytes per second. */
    public static double measure(int threads, long bytesPerBuffer, int rounds) throws Exception {
        int longs = Math.toIntExact(bytesPerBuffer / Long.BYTES);
        List<long[][]> buffers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long[] a = new long[longs];
            long[] b = new long[longs];
            java.util.Arrays.fill(a, t + 1); // touch every page before timing
            java.util.Arrays.fill(b, t + 2);
            buffers.add(new long[][] {a, b});
        }
        double best = 0;
        for (int r = 0; r < rounds; r++) {
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            CyclicBarrier end = new CyclicBarrier(threads + 1);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long[][] pair = buffers.get(t);
                int round = r;
                Thread w = new Thread(() -> {
                    try {
                        start.await();
                        if (round % 2 == 0) {
                            System.arraycopy(pair[0], 0, pair[1], 0, longs);
                        } else {
                            System.arraycopy(pair[1], 0, pair[0], 0, longs);
                        }
                        end.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                w.start();
                workers.add(w);
            }
            start.await();
            long t0 = System.nanoTime();
            end.await();
            long elapsed = System.nanoTime() - t0;
            for (Thread w : workers) {
                w.join();
            }
            double bytes = 2.0 * threads * (double) longs * Long.BYTES; // read + written
            best = Math.max(best, bytes / (elapsed / 1e9));
        }
        return best;
    }
}
