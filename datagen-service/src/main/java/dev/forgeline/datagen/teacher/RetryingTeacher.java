package dev.forgeline.datagen.teacher;

import dev.forgeline.contracts.ChatTurn;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Tries a failed call again while it may help: the wait the server asked for with Retry-After
 * (up to a minute), else exponential backoff with full jitter (a random wait up to 0.5 s, 1 s, 2 s
 * ... 30 s), so that many callers hit by one rate limit do not come back together.
 */
public final class RetryingTeacher implements Teacher {
    /** Waits; tests pass one that records instead. */
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private static final long BASE_MILLIS = 500;
    private static final long CAP_MILLIS = 30_000;
    private static final Duration LONGEST_RETRY_AFTER = Duration.ofMinutes(1);

    private final Teacher inner;
    private final int maxAttempts;
    private final Random random;
    private final Sleeper sleeper;
    private final AtomicLong attempts = new AtomicLong();

    public RetryingTeacher(Teacher inner, int maxAttempts, long seed) {
        this(inner, maxAttempts, seed, d -> Thread.sleep(d.toMillis()));
    }

    public RetryingTeacher(Teacher inner, int maxAttempts, long seed, Sleeper sleeper) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts " + maxAttempts);
        }
        this.inner = inner;
        this.maxAttempts = maxAttempts;
        this.random = new Random(seed);
        this.sleeper = sleeper;
    }

    @Override
    public TeacherReply chat(List<ChatTurn> messages, double temperature, int maxTokens, Long seed, boolean jsonObject) {
        return retrying(() -> inner.chat(messages, temperature, maxTokens, seed, jsonObject));
    }

    @Override
    public Samples sample(List<ChatTurn> messages, int n, double temperature, double topP, int maxTokens, Long seed) {
        return retrying(() -> inner.sample(messages, n, temperature, topP, maxTokens, seed));
    }

    private <T> T retrying(java.util.function.Supplier<T> call) {
        for (int attempt = 1; ; attempt++) {
            attempts.incrementAndGet();
            try {
                return call.get();
            } catch (TeacherException e) {
                if (!e.retryable() || attempt >= maxAttempts) {
                    throw attempt == 1 ? e : new TeacherException(e.getMessage() + " (after " + attempt + " attempts)",
                            e.status(), e.retryable(), e.retryAfter().orElse(null), e);
                }
                try {
                    sleeper.sleep(wait(e, attempt));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new TeacherException("interrupted while waiting to retry: " + e.getMessage(), e.status(), false, null, e);
                }
            }
        }
    }

    /** Calls made to the teacher, retries included. */
    public long attempts() {
        return attempts.get();
    }

    private Duration wait(TeacherException e, int attempt) {
        if (e.retryAfter().isPresent()) {
            Duration asked = e.retryAfter().get();
            return asked.compareTo(LONGEST_RETRY_AFTER) > 0 ? LONGEST_RETRY_AFTER : asked;
        }
        long ceiling = Math.min(CAP_MILLIS, BASE_MILLIS << Math.min(attempt - 1, 16));
        long millis;
        synchronized (random) {
            millis = (long) (random.nextDouble() * ceiling);
        }
        return Duration.ofMillis(millis);
    }
}
