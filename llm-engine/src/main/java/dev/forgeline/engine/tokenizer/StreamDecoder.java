package dev.forgeline.engine.tokenizer;

import java.util.Arrays;

/**
 * Turns generated ids, fed one at a time, into text deltas whose concatenation equals the decode
 * of all ids.
 *
 * <p>Decoding one token alone is wrong twice over: SentencePiece-style decoders strip the
 * leading space of the first token, and byte-fallback tokens ({@code <0xF0>}, ...) carry a
 * fraction of a UTF-8 character. So each step decodes a short window twice, the context already
 * emitted ({@code prefixOffset..readOffset}) and the context plus the new ids, and emits the
 * difference, unless that ends in U+FFFD: then the character is incomplete and the ids wait for
 * the next step. This is the scheme of text-generation-inference's {@code decode_token}.
 *
 * <p>Not thread-safe; one per generated sequence.
 */
public final class StreamDecoder {

    private static final char REPLACEMENT = '\uFFFD';
    /** Context kept before the emitted point: enough for decoders that look at neighbours. */
    private static final int CONTEXT = 5;

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids;
    private int size;
    private int prefixOffset;
    private int readOffset;

    StreamDecoder(Tokenizer tokenizer, int[] promptIds, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
        this.ids = Arrays.copyOf(promptIds, Math.max(16, promptIds.length * 2));
        this.size = promptIds.length;
        this.readOffset = promptIds.length;
        this.prefixOffset = Math.max(0, promptIds.length - CONTEXT);
    }

    /** Adds one id and returns the text it completes, possibly empty. */
    public String next(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefix = decodeRange(prefixOffset, readOffset);
        String full = decodeRange(prefixOffset, size);
        if (full.length() > prefix.length() && full.charAt(full.length() - 1) != REPLACEMENT) {
            String delta = full.startsWith(prefix) ? full.substring(prefix.length()) : full.substring(
                    commonPrefixLength(prefix, full));
            prefixOffset = readOffset;
            readOffset = size;
            return delta;
        }
        return "";
    }

    /**
     * Returns what is still held back (an incomplete character at the end of the sequence, which
     * then decodes to U+FFFD as a full decode would) and marks everything emitted.
     */
    public String flush() {
        if (readOffset == size) {
            return "";
        }
        String prefix = decodeRange(prefixOffset, readOffset);
        String full = decodeRange(prefixOffset, size);
        prefixOffset = readOffset;
        readOffset = size;
        return full.length() > prefix.length() ? full.substring(commonPrefixLength(prefix, full)) : "";
    }

    /** All ids seen so far, prompt included. */
    public int[] ids() {
        return Arrays.copyOf(ids, size);
    }

    private String decodeRange(int from, int to) {
        return from == to ? "" : tokenizer.decode(Arrays.copyOfRange(ids, from, to), skipSpecialTokens);
    }

    private static int commonPrefixLength(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }
}
