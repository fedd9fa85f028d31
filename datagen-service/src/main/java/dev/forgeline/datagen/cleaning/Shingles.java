package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/** Text as compared for duplicates and echoes: lower case, punctuation and runs of spaces gone, then word 3-shingles. */
final class Shingles {
    private Shingles() {}

    /** The user and assistant messages, normalized, one message a line. */
    static String normalized(Conversation c) {
        StringBuilder b = new StringBuilder();
        for (ChatTurn t : c.messages()) {
            if (!"system".equals(t.role())) {
                b.append(t.role()).append(": ").append(normalized(t.content())).append('\n');
            }
        }
        return b.toString();
    }

    static String normalized(String text) {
        return text.toLowerCase(Locale.ROOT).replaceAll("[\\p{Punct}’‘“”]+", " ").replaceAll("\\s+", " ").strip();
    }

    /** Word 3-shingles of normalized text (single words under three words), as hashes. */
    static Set<Long> of(String normalized) {
        String[] words = normalized.isEmpty() ? new String[0] : normalized.split(" ");
        int k = words.length < 3 ? 1 : 3;
        Set<Long> out = new HashSet<>();
        for (int i = 0; i + k <= words.length; i++) {
            long h = 1125899906842597L;
            for (int j = i; j < i + k; j++) {
                h = 31 * h + words[j].hashCode();
                h ^= h >>> 29;
            }
            out.add(h);
        }
        return out;
    }

    /** |a ∩ b| / |a ∪ b|. */
    static double jaccard(Set<Long> a, Set<Long> b) {
        if (a.isEmpty() && b.isEmpty()) {
            return 1;
        }
        Set<Long> small = a.size() <= b.size() ? a : b;
        Set<Long> large = small == a ? b : a;
        int common = 0;
        for (Long s : small) {
            if (large.contains(s)) common++;
        }
        return (double) common / (a.size() + b.size() - common);
    }
}
