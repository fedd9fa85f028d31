package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

/**
 * Keeps the first of each group of duplicate examples, one offer at a time. Only the
 * non-system messages count, so examples that differ only in their system prompt are duplicates.
 *
 * <p><b>Exact</b>: the SHA-256 of the messages' texts, lowercased, with whitespace collapsed and
 * leading and trailing punctuation removed.
 *
 * <p><b>Near</b>: the Jaccard similarity J(A, B) = |A ∩ B| / |A ∪ B| of the word 3-shingle sets
 * (single words for texts under 3 words) reaches the threshold against some kept example.
 * Comparing against every kept example costs O(n) per offer, so candidates come from MinHash
 * with locality-sensitive hashing: {@value #HASHES} seeded hash functions give a signature whose
 * positions agree with probability J; the signature is cut into b bands of r rows, and two
 * examples are candidates when any band agrees in all r rows, which happens with probability
 * P(J) = 1 - (1 - J^r)^b. The rows r are chosen per threshold t as the largest of 1, 2, 4, 8, 16
 * with P(t) >= {@value #RECALL_AT_THRESHOLD} (t = 0.7 or 0.8: 32 bands x 4 rows, P(0.7) = 0.9998),
 * so a pair right at the threshold is nearly always caught while dissimilar pairs rarely become
 * candidates. Each candidate is then confirmed with the exact Jaccard of the stored shingle sets,
 * so the answer NEAR is never a MinHash estimation error.
 *
 * <p>Thread-safe: signatures are computed outside the lock, look-up and insertion happen inside
 * it, so of several threads offering the same example exactly one gets {@link Verdict#NEW}.
 */
public final class Deduplicator {
    public enum Verdict {
        /** Unlike everything kept so far; now kept. */
        NEW,
        /** The same text as a kept example. */
        EXACT,
        /** Similar to a kept example at or above the threshold. */
        NEAR
    }

    static final int HASHES = 128;
    static final double RECALL_AT_THRESHOLD = 0.99;

    private final double threshold;
    private final int rows;
    private final int bands;
    /** Hash function i orders shingles by MULTIPLIER[i] * x + ADDEND[i] (mod 2^64). */
    private final long[] multipliers = new long[HASHES];
    private final long[] addends = new long[HASHES];

    private final Object lock = new Object();
    private final Set<String> exactKeys = new HashSet<>();
    /** Shingle sets of the kept examples, for the exact Jaccard of a candidate. */
    private final List<long[]> keptShingles = new ArrayList<>();
    /** Band key -> indexes into {@link #keptShingles} of the examples with that band. */
    private final Map<Long, List<Integer>> bucketsByBand = new HashMap<>();

    /**
     * @param threshold Jaccard similarity in (0, 1] at or above which an example is a near duplicate
     * @param seed seeds the hash functions; the verdicts for a pair rarely depend on it, since
     *     candidates are confirmed exactly
     */
    public Deduplicator(double threshold, long seed) {
        if (!(threshold > 0 && threshold <= 1)) {
            throw new IllegalArgumentException("near-duplicate threshold must be in (0, 1]: " + threshold);
        }
        this.threshold = threshold;
        this.rows = rowsFor(threshold);
        this.bands = HASHES / rows;
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < HASHES; i++) {
            // odd multipliers are bijections on 64-bit values, so no two shingles collapse
            multipliers[i] = random.nextLong() | 1L;
            addends[i] = random.nextLong();
        }
    }

    /** The largest power-of-two rows per band that still catches a pair at the threshold with P >= 0.99. */
    static int rowsFor(double threshold) {
        int best = 1;
        for (int r = 1; r <= 16; r *= 2) {
            if (candidateProbability(threshold, r, HASHES / r) >= RECALL_AT_THRESHOLD) best = r;
        }
        return best;
    }

    /** P(J) = 1 - (1 - J^r)^b: at least one of b bands agrees in all its r rows. */
    static double candidateProbability(double jaccard, int rows, int bands) {
        return 1 - Math.pow(1 - Math.pow(jaccard, rows), bands);
    }

    public double threshold() {
        return threshold;
    }

    int rows() {
        return rows;
    }

    int bands() {
        return bands;
    }

    /** How many examples have been kept. */
    public int size() {
        synchronized (lock) {
            return keptShingles.size();
        }
    }

    /** Judges {@code c} against the examples kept so far and keeps it when it is {@link Verdict#NEW}. */
    public Verdict offer(Conversation c) {
        List<String> texts = new ArrayList<>();
        for (ChatTurn t : c.messages()) {
            if (!"system".equals(t.role())) texts.add(t.content());
        }
        String exactKey = exactKey(texts);
        long[] shingles = WordShingles.hashes(WordShingles.words(texts));
        long[] bandKeys = bandKeys(signature(shingles));

        synchronized (lock) {
            if (exactKeys.contains(exactKey)) return Verdict.EXACT;
            if (hasNearDuplicate(shingles, bandKeys)) return Verdict.NEAR;
            int index = keptShingles.size();
            exactKeys.add(exactKey);
            keptShingles.add(shingles);
            for (long key : bandKeys) bucketsByBand.computeIfAbsent(key, k -> new ArrayList<>(1)).add(index);
            return Verdict.NEW;
        }
    }

    private boolean hasNearDuplicate(long[] shingles, long[] bandKeys) {
        if (shingles.length == 0) return false;
        Set<Integer> compared = new HashSet<>();
        for (long key : bandKeys) {
            List<Integer> bucket = bucketsByBand.get(key);
            if (bucket == null) continue;
            for (int index : bucket) {
                if (compared.add(index) && WordShingles.jaccard(shingles, keptShingles.get(index)) >= threshold) {
                    return true;
                }
            }
        }
        return false;
    }

    /** sig[i] = min over shingles x of h_i(x); positions of two signatures agree with probability J. */
    long[] signature(long[] shingles) {
        long[] sig = new long[HASHES];
        java.util.Arrays.fill(sig, Long.MAX_VALUE);
        for (long x : shingles) {
            // x is already a well-mixed 64-bit hash, so one multiply-add per function is enough
            // to give each function its own order of the shingles
            for (int i = 0; i < HASHES; i++) {
                long h = multipliers[i] * x + addends[i];
                if (h < sig[i]) sig[i] = h;
            }
        }
        return sig;
    }

    /** One key per band, from its r signature values and the band's number (equal rows in different bands do not match). */
    private long[] bandKeys(long[] sig) {
        long[] keys = new long[bands];
        for (int b = 0; b < bands; b++) {
            long key = b;
            for (int r = 0; r < rows; r++) key = WordShingles.mix(key * 0x9E3779B97F4A7C15L + sig[b * rows + r]);
            keys[b] = key;
        }
        return keys;
    }

    /** SHA-256 over each message's normalized text, separated by a byte no text contains. */
    static String exactKey(List<String> texts) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM lacks SHA-256", e);
        }
        for (String t : texts) {
            sha.update(normalizeForExact(t).getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    /** Lowercase, typographic quotes folded, whitespace collapsed, leading and trailing punctuation dropped. */
    static String normalizeForExact(String text) {
        String collapsed = WHITESPACE.matcher(WordShingles.fold(text)).replaceAll(" ");
        int start = 0, end = collapsed.length();
        while (start < end && isTrimmable(collapsed.charAt(start))) start++;
        while (end > start && isTrimmable(collapsed.charAt(end - 1))) end--;
        return collapsed.substring(start, end);
    }

    /** Spaces and punctuation; surrogates stay, so an example that is only an emoji keeps its text. */
    private static boolean isTrimmable(char c) {
        return !Character.isLetterOrDigit(c) && !Character.isSurrogate(c);
    }
}
