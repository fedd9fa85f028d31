package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Keeps each example once: an exact duplicate has the same normalized text as a kept example
 * (SHA-256 of it), a near duplicate a Jaccard similarity of word 3-shingles at or above the
 * threshold with one.
 *
 * <p>Near duplicates are found with MinHash and LSH: 128 seeded hashes, whose minima over an
 * example's shingles agree between two examples with probability equal to their Jaccard
 * similarity s; in 32 bands of 4 a pair shares some band with probability 1 - (1 - s^4)^32, 0.9998
 * at s = 0.7 and 0.87 at 0.5. Candidates are confirmed with the exact Jaccard of their shingles, so
 * the threshold is exact and only recall is probabilistic (it falls for thresholds well below 0.5).
 * Thread-safe.
 */
public final class Deduplicator {
    public enum Verdict { NEW, EXACT, NEAR }

    private static final int BANDS = 32;
    private static final int ROWS = 4;

    private final double threshold;
    private final long[] seeds = new long[BANDS * ROWS];
    private final Set<String> exact = new HashSet<>();
    private final List<Set<Long>> kept = new ArrayList<>();
    private final Map<Long, List<Integer>> buckets = new HashMap<>(); // (band, band hash) -> kept indexes

    public Deduplicator(double threshold, long seed) {
        this.threshold = threshold;
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < seeds.length; i++) {
            seeds[i] = random.nextLong();
        }
    }

    /** Keeps {@code c} when it is new; says what it is either way. */
    public synchronized Verdict offer(Conversation c) {
        String text = Shingles.normalized(c);
        String digest = sha256(text);
        if (exact.contains(digest)) {
            return Verdict.EXACT;
        }
        Set<Long> shingles = Shingles.of(text.replace('\n', ' '));
        long[] bandKeys = bandKeys(shingles);
        Set<Integer> seen = new HashSet<>();
        for (long key : bandKeys) {
            for (int candidate : buckets.getOrDefault(key, List.of())) {
                if (seen.add(candidate) && Shingles.jaccard(shingles, kept.get(candidate)) >= threshold) {
                    return Verdict.NEAR;
                }
            }
        }
        exact.add(digest);
        int index = kept.size();
        kept.add(shingles);
        for (long key : bandKeys) {
            buckets.computeIfAbsent(key, k -> new ArrayList<>(1)).add(index);
        }
        return Verdict.NEW;
    }

    /** The MinHash signature, cut into bands, each band hashed with its number. */
    private long[] bandKeys(Set<Long> shingles) {
        long[] signature = new long[seeds.length];
        java.util.Arrays.fill(signature, Long.MAX_VALUE);
        for (long s : shingles) {
            for (int i = 0; i < seeds.length; i++) {
                long h = mix(s ^ seeds[i]);
                if (h < signature[i]) signature[i] = h;
            }
        }
        long[] keys = new long[BANDS];
        for (int b = 0; b < BANDS; b++) {
            long h = b;
            for (int r = 0; r < ROWS; r++) {
                h = mix(h * 31 + signature[b * ROWS + r]);
            }
            keys[b] = h;
        }
        return keys;
    }

    /** SplitMix64's finalizer: a well-mixed 64-bit hash. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static String sha256(String text) {
        try {
            return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
