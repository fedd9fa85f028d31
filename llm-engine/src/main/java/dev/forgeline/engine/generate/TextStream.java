package dev.forgeline.engine.generate;

import java.util.Arrays;
import java.util.List;

/**
 * Turns generated ids into final text, token by token, and watches for stop strings.
 *
 * <p>Decoding a token alone is wrong for SentencePiece (a leading "▁" is stripped at the start
 * of a text) and for byte-level or byte-fallback vocabularies (one character can span tokens).
 * So each step decodes a short window that starts a few tokens back, prompt included, and
 * keeps what the new token added (the scheme of text-generation-inference); text that ends in
 * an incomplete character (U+FFFD) waits for the next token.
 *
 * <p>Text that could be the beginning of a stop string is held back until it is clearly not;
 * a completed stop string ends the sequence and neither it nor anything after it is emitted.
 */
public final class TextStream {

    private static final int WINDOW = 5;

    private final TokenDecoder decoder;
    private final List<String> stops;
    private int[] ids;
    private int size;
    private int prefixOffset;
    private int readOffset;
    private final StringBuilder text = new StringBuilder(); // emitted, final
    private String pending = ""; // decoded, held back for a possible stop string
    private boolean stopped;

    public TextStream(TokenDecoder decoder, List<String> stops, int[] prompt) {
        this.decoder = decoder;
        this.stops = stops;
        this.ids = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        this.size = prompt.length;
        this.prefixOffset = Math.max(0, prompt.length - WINDOW);
        this.readOffset = prompt.length;
    }

    /** Adds one generated token; returns the text it made final (possibly empty). */
    public String push(int id) {
        if (stopped) {
            return "";
        }
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String before = decoder.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String after = decoder.decode(Arrays.copyOfRange(ids, prefixOffset, size));
        if (after.length() <= before.length() || after.endsWith("\uFFFD") || !after.startsWith(before)) {
            if (!after.startsWith(before) && !after.endsWith("\uFFFD")) {
                // the decoder rewrote earlier text (rare normalisations): restart the window here
                prefixOffset = readOffset;
                readOffset = size;
            }
            return "";
        }
        String delta = after.substring(before.length());
        prefixOffset = readOffset;
        readOffset = size;
        return release(pending + delta);
    }

    private String release(String candidate) {
        int cut = -1;
        for (String stop : stops) {
            int at = candidate.indexOf(stop);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            stopped = true;
            pending = "";
            String out = candidate.substring(0, cut);
            text.append(out);
            return out;
        }
        int hold = 0;
        for (String stop : stops) {
            for (int k = Math.min(stop.length() - 1, candidate.length()); k > hold; k--) {
                if (candidate.regionMatches(candidate.length() - k, stop, 0, k)) {
                    hold = k;
                    break;
                }
            }
        }
        String out = candidate.substring(0, candidate.length() - hold);
        pending = candidate.substring(candidate.length() - hold);
        text.append(out);
        return out;
    }

    /** Releases held-back text when the sequence ends for another reason. */
    public String flush() {
        if (stopped) {
            return "";
        }
        String candidate = pending;
        if (readOffset < size) {
            // tokens still waiting on an incomplete character: the sequence is over, take them as they are
            String before = decoder.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
            String after = decoder.decode(Arrays.copyOfRange(ids, prefixOffset, size));
            if (after.startsWith(before)) {
                candidate += after.substring(before.length());
            }
            prefixOffset = readOffset;
            readOffset = size;
        }
        pending = "";
        String out = release(candidate);
        String rest = pending;
        pending = "";
        text.append(rest);
        return out + rest;
    }

    /** A stop string has appeared. */
    public boolean stopped() {
        return stopped;
    }

    /** All text emitted so far. */
    public String text() {
        return text.toString();
    }
}
