package dev.forgeline.contracts;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Collects {@link FieldError}s with the messages every request uses, so they read the same everywhere. */
public final class FieldChecks {
    /** The pipeline steps a request may name in {@code then}. */
    public static final List<String> STEPS = List.of("train", "eval", "deploy");

    private final List<FieldError> errors = new ArrayList<>();

    public FieldChecks fail(String field, String message) {
        errors.add(new FieldError(field, message));
        return this;
    }

    public FieldChecks required(String field, Object value) {
        if (value == null || (value instanceof String s && s.isBlank())) fail(field, "required");
        return this;
    }

    /** A field that must be left out, with the reason. */
    public FieldChecks absent(String field, Object value, String why) {
        if (value != null) fail(field, why);
        return this;
    }

    public FieldChecks positive(String field, Number value) {
        if (value != null && !(value.doubleValue() > 0)) fail(field, "must be > 0");
        return this;
    }

    public FieldChecks atLeast(String field, Number value, long min) {
        if (value != null && value.doubleValue() < min) fail(field, "must be >= " + min);
        return this;
    }

    public FieldChecks nonNegative(String field, Number value) {
        if (value != null && !(value.doubleValue() >= 0)) fail(field, "must be >= 0");
        return this;
    }

    /** {@code min <= value < max}, written as a half-open interval in the message. */
    public FieldChecks inRange(String field, Number value, double min, double maxExclusive) {
        if (value != null && !(value.doubleValue() >= min && value.doubleValue() < maxExclusive)) {
            fail(field, "must be in [" + fmt(min) + ", " + fmt(maxExclusive) + ")");
        }
        return this;
    }

    /** {@code min <= value <= max}. */
    public FieldChecks between(String field, Number value, double min, double max) {
        if (value != null && !(value.doubleValue() >= min && value.doubleValue() <= max)) {
            fail(field, "must be in [" + fmt(min) + ", " + fmt(max) + "]");
        }
        return this;
    }

    public FieldChecks supportedSchema(int version) {
        if (version < 1) fail("schema_version", "must be >= 1");
        return this;
    }

    /** Each entry of {@code then} is a known step, named once. */
    public FieldChecks steps(String field, Collection<String> steps) {
        if (steps == null) return this;
        Set<String> seen = new HashSet<>();
        int i = 0;
        for (String step : steps) {
            String at = field + "[" + i++ + "]";
            if (!STEPS.contains(step)) fail(at, "unknown step '" + step + "' (expected one of " + STEPS + ")");
            else if (!seen.add(step)) fail(at, "step '" + step + "' named twice");
        }
        return this;
    }

    public FieldChecks nonBlankEntries(String field, Collection<String> values) {
        if (values == null) return this;
        int i = 0;
        for (String v : values) {
            if (v == null || v.isBlank()) fail(field + "[" + i + "]", "must not be blank");
            i++;
        }
        return this;
    }

    public FieldChecks addAll(String prefix, List<FieldError> nested) {
        for (FieldError e : nested) errors.add(new FieldError(prefix + "." + e.field(), e.message()));
        return this;
    }

    public List<FieldError> errors() {
        return List.copyOf(errors);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}
