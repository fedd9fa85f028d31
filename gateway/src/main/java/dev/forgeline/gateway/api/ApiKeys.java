package dev.forgeline.gateway.api;

import dev.forgeline.gateway.GatewayConfig;
import dev.forgeline.gateway.protocol.ApiError;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * Bearer API keys. Only SHA-256 digests of the configured keys are kept, and a presented key is
 * compared, digest against digest, with every configured one in constant time: the time taken
 * says nothing about how much of a key matched, or which. Keys are never logged.
 */
@ApplicationScoped
public class ApiKeys {

    private List<byte[]> digests = List.of();

    @Inject
    GatewayConfig config;

    @jakarta.annotation.PostConstruct
    void init() {
        digests = config.apiKeys().orElse(List.of()).stream().map(String::strip).filter(k -> !k.isEmpty())
                .map(ApiKeys::sha256).toList();
    }

    /** No keys configured: the API is open, for local mode. */
    public boolean open() {
        return digests.isEmpty();
    }

    /** Checks an {@code Authorization} header value; throws 401 unless it carries a configured key. */
    public void check(String authorization) {
        if (open()) {
            return;
        }
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                || authorization.substring(7).isBlank()) {
            throw ApiError.unauthorized("You didn't provide an API key. You need to provide your API key in an"
                    + " Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
        }
        byte[] presented = sha256(authorization.substring(7).strip());
        boolean match = false;
        for (byte[] d : digests) {
            match |= MessageDigest.isEqual(d, presented);
        }
        if (!match) {
            throw ApiError.unauthorized("Incorrect API key provided.");
        }
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
