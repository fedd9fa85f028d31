package dev.forgeline.jobs;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a successful job reports: final {@code metrics} (merged into the status's metrics) and
 * {@code outputs} (the status's {@code result}: model id, dataset id, artifact URIs...).
 */
public record JobResult(Map<String, Object> metrics, Map<String, Object> outputs) {
    public JobResult {
        metrics = copy(metrics);
        outputs = copy(outputs);
    }

    public static JobResult empty() {
        return new JobResult(Map.of(), Map.of());
    }

    public JobResult withMetric(String name, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(metrics);
        m.put(name, value);
        return new JobResult(m, outputs);
    }

    public JobResult withOutput(String name, Object value) {
        Map<String, Object> o = new LinkedHashMap<>(outputs);
        o.put(name, value);
        return new JobResult(metrics, o);
    }

    private static Map<String, Object> copy(Map<String, Object> m) {
        return m == null || m.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
