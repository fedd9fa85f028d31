package dev.forgeline.datagen.cleaning;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The word view of a text that near-duplicate and echo detection compare: lowercase words
 * (runs of letters, digits and inner apostrophes), and the set of their 3-word shingles as
 * 64-bit hashes. Punctuation and spacing do not count, so "Hello,  World!" and "hello world"
 * have the same shingles.
 */
final class WordShingles {
    /** Words per shingle; texts with fewer words use single words instead. */
    static final int SIZE = 3;

    private WordShingles() {}

    /** Lowercase, typographic apostrophes and quotes folded to ASCII, so that ’ and ' compare equal. */
    static String fold(String text) {
        if (text == null) return "";
        return text.toLowerCase(Locale.ROOT)
                .replace('\u2019', '\'').replace('\u2018', '\'').replace('\u02BC', '\'').replace('`', '\'')
                .replace('\u201C', '"').replace('\u201D', '"');
    }

    /** The words of {@code text}, folded; apostrophes count only inside a word ("don't", not "'quoted'"). */
    static List<String> words(String text) {
        String folded = fold(text);
        List<String> words = new ArrayList<>();
        int n = folded.length();
        int i = 0;
        while (i < n) {
            while (i < n && !isWordChar(folded.charAt(i))) i++;
            int start = i;
            while (i < n && (isWordChar(folded.charAt(i)) || folded.charAt(i) == '\'')) i++;
            int end = i;
            while (end > start && folded.charAt(end - 1) == '\'') end--;
            if (end > start) words.add(folded.substring(start, end));
        }
        return words;
    }

    /** The words of several texts in order, as one text. */
    static List<String> words(Iterable<String> texts) {
        List<String> all = new ArrayList<>();
        for (String t : texts) all.addAll(words(t));
        return all;
    }

    /**
     * The distinct shingles of {@code words} as sorted hashes: each run of {@link #SIZE} consecutive
     * words, or each single word when there are fewer than {@link #SIZE}. Sorted so that two sets
     * intersect by a linear merge.
     */
    static long[] hashes(List<String> words) {
        int n = words.size();
        if (n == 0) return new long[0];
        long[] wordHash = new long[n];
        for (int i = 0; i < n; i++) wordHash[i] = wordHash(words.get(i));
        long[] shingles;
        if (n < SIZE) {
            shingles = new long[n];
            for (int i = 0; i < n; i++) shingles[i] = mix(wordHash[i]);
        } else {
            shingles = new long[n - SIZE + 1];
            for (int i = 0; i < shingles.length; i++) {
                // a polynomial over the three word hashes keeps word order: "a b c" differs from "c b a"
                shingles[i] = mix((wordHash[i] * PRIME + wordHash[i + 1]) * PRIME + wordHash[i + 2]);
            }
        }
        Arrays.sort(shingles);
        return distinct(shingles);
    }

    /** |a ∩ b| of two sorted, distinct hash sets. */
    static int intersection(long[] a, long[] b) {
        int i = 0, j = 0, common = 0;
        while (i < a.length && j < b.length) {
            if (a[i] == b[j]) {
                common++;
                i++;
                j++;
            } else if (a[i] < b[j]) {
                i++;
            } else {
                j++;
            }
        }
        return common;
    }

    /** Jaccard similarity |a ∩ b| / |a ∪ b|; two empty sets are not similar (0). */
    static double jaccard(long[] a, long[] b) {
        int common = intersection(a, b);
        int union = a.length + b.length - common;
        return union == 0 ? 0.0 : (double) common / union;
    }

    /** The share of {@code part}'s shingles that also occur in {@code whole}: |part ∩ whole| / |part|. */
    static double containment(long[] part, long[] whole) {
        return part.length == 0 ? 0.0 : (double) intersection(part, whole) / part.length;
    }

    private static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c);
    }

    private static final long PRIME = 0x9E3779B97F4A7C15L;

    /** FNV-1a, 64 bits: cheap and stable across JVMs (String.hashCode has only 32 bits). */
    private static long wordHash(String word) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < word.length(); i++) {
            h ^= word.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** The SplitMix64 finalizer: spreads every input bit over all output bits. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static long[] distinct(long[] sorted) {
        int k = 0;
        for (int i = 0; i < sorted.length; i++) {
            if (k == 0 || sorted[i] != sorted[k - 1]) sorted[k++] = sorted[i];
        }
        return k == sorted.length ? sorted : Arrays.copyOf(sorted, k);
    }
}
