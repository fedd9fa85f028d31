package dev.forgeline.datagen.generation;

import dev.forgeline.datagen.cleaning.Deduplicator;
import dev.forgeline.datagen.cleaning.Rejection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Counts at every stage of a generation: examples asked for, answers returned, and what became of
 * each (unparseable, rejected by reason, duplicate, kept), with the teacher calls and tokens spent.
 * {@code returned = unparseable + rejected + duplicates + kept} always holds. Thread-safe.
 */
public final class GenerationStats {
    private long asked;
    private long returned;
    private long unparseable;
    private final EnumMap<Rejection, Long> rejected = new EnumMap<>(Rejection.class);
    private long exactDuplicates;
    private long nearDuplicates;
    private long kept;
    private long teacherCalls;
    private long failedCalls;
    private long promptTokens;
    private long completionTokens;
    private boolean budgetReached;

    synchronized void asked() {
        asked++;
    }

    synchronized void call() {
        teacherCalls++;
    }

    synchronized void failedCall() {
        failedCalls++;
    }

    synchronized void tokens(long prompt, long completion) {
        promptTokens += prompt;
        completionTokens += completion;
    }

    synchronized void unparseable() {
        returned++;
        unparseable++;
    }

    synchronized void rejected(Rejection reason) {
        returned++;
        rejected.merge(reason, 1L, Long::sum);
    }

    synchronized void duplicate(Deduplicator.Verdict verdict) {
        returned++;
        if (verdict == Deduplicator.Verdict.EXACT) exactDuplicates++;
        else nearDuplicates++;
    }

    synchronized void kept() {
        returned++;
        kept++;
    }

    synchronized void budgetReached() {
        budgetReached = true;
    }

    public synchronized long keptCount() {
        return kept;
    }

    public synchronized long returnedCount() {
        return returned;
    }

    public synchronized long tokensUsed() {
        return promptTokens + completionTokens;
    }

    public synchronized long callCount() {
        return teacherCalls;
    }

    public synchronized boolean stoppedAtBudget() {
        return budgetReached;
    }

    /** The counts as the card and the progress events show them (snake_case keys). */
    public synchronized Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("asked", asked);
        m.put("returned", returned);
        m.put("unparseable", unparseable);
        Map<String, Object> reasons = new LinkedHashMap<>();
        rejected.forEach((r, n) -> reasons.put(r.key(), n));
        m.put("rejected", reasons);
        m.put("duplicates", Map.of("exact", exactDuplicates, "near", nearDuplicates));
        m.put("kept", kept);
        m.put("teacher_calls", teacherCalls);
        m.put("failed_calls", failedCalls);
        m.put("teacher_tokens", Map.of("prompt", promptTokens, "completion", completionTokens, "total", promptTokens + completionTokens));
        m.put("stopped_at_budget", budgetReached);
        return m;
    }

    /** Counts saved by {@link #toMap}, to go on from after a restart. */
    @SuppressWarnings("unchecked")
    static GenerationStats fromMap(Map<String, Object> m) {
        GenerationStats s = new GenerationStats();
        s.asked = number(m.get("asked"));
        s.returned = number(m.get("returned"));
        s.unparseable = number(m.get("unparseable"));
        ((Map<String, Object>) m.getOrDefault("rejected", Map.of())).forEach((k, v) ->
                s.rejected.put(Rejection.valueOf(k.toUpperCase(java.util.Locale.ROOT)), number(v)));
        Map<String, Object> d = (Map<String, Object>) m.getOrDefault("duplicates", Map.of());
        s.exactDuplicates = number(d.get("exact"));
        s.nearDuplicates = number(d.get("near"));
        s.kept = number(m.get("kept"));
        s.teacherCalls = number(m.get("teacher_calls"));
        s.failedCalls = number(m.get("failed_calls"));
        Map<String, Object> t = (Map<String, Object>) m.getOrDefault("teacher_tokens", Map.of());
        s.promptTokens = number(t.get("prompt"));
        s.completionTokens = number(t.get("completion"));
        s.budgetReached = Boolean.TRUE.equals(m.get("stopped_at_budget"));
        return s;
    }

    private static long number(Object o) {
        return o instanceof Number n ? n.longValue() : 0;
    }
}
