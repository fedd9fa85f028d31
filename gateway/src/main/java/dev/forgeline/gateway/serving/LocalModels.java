package dev.forgeline.gateway.serving;

import dev.forgeline.gateway.engine.ModelRunner;
import dev.forgeline.gateway.engine.ModelRunner.TokenLogprob;
import dev.forgeline.gateway.protocol.ApiError;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** What chat and completions serving share: ids, context checks, seeds per choice, token bytes. */
final class LocalModels {
    private LocalModels() {}

    private static final SecureRandom RANDOM = new SecureRandom();

    static String newId(String prefix) {
        byte[] b = new byte[12];
        RANDOM.nextBytes(b);
        return prefix + HexFormat.of().formatHex(b);
    }

    static long now() {
        return System.currentTimeMillis() / 1000;
    }

    /**
     * The token budget of a prompt: the request's, or what is left of the context; 400
     * context_length_exceeded when the prompt and the request's budget do not fit.
     */
    static int budget(ModelRunner runner, String param, int promptLength, Integer requested) {
        int context = runner.contextLength();
        if (requested != null ? promptLength + requested > context : promptLength >= context) {
            throw ApiError.contextLengthExceeded(param, context, promptLength, requested == null ? 1 : requested);
        }
        return requested != null ? requested : context - promptLength;
    }

    /** Choice i of a seeded request samples with seed + i: reproducible, yet the choices differ. */
    static Long seed(Long seed, int choice) {
        return seed == null ? null : seed + choice;
    }

    static List<Integer> bytes(String token) {
        byte[] b = token.getBytes(StandardCharsets.UTF_8);
        List<Integer> out = new ArrayList<>(b.length);
        for (byte x : b) {
            out.add(x & 0xff);
        }
        return out;
    }

    static List<TokenLogprob> score(ModelRunner runner, int[] context, int[] tokens, int top) {
        return tokens.length == 0 ? List.of() : runner.score(context, tokens, top);
    }

}
