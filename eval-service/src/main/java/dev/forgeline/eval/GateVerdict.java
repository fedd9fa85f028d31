package dev.forgeline.eval;

import dev.forgeline.contracts.EvalRequest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The gate's decision on one evaluated model. Each threshold of {@link EvalRequest.Gate} is a
 * check; a comparison whose numbers were not measured (no base model, no held-out set) is
 * skipped and says why, while an absolute threshold without its number fails.
 *
 * @param checks one entry per check: name, outcome (passed, failed, skipped), value and threshold
 */
record GateVerdict(boolean passed, String reason, List<Map<String, Object>> checks) {

    /**
     * The numbers the gate reads; any may be null when not measured.
     *
     * @param heldOutRewardAccuracy a held-out preference set only: the share of pairs whose DPO margin
     *                              against the base is positive
     */
    record Measured(Double accuracy, Double baseAccuracy, Double heldOutLoss, Double baseHeldOutLoss,
            Double heldOutRewardAccuracy) {
        Measured(Double accuracy, Double baseAccuracy, Double heldOutLoss, Double baseHeldOutLoss) {
            this(accuracy, baseAccuracy, heldOutLoss, baseHeldOutLoss, null);
        }
    }

    static GateVerdict judge(EvalRequest.Gate gate, Measured m) {
        List<Map<String, Object>> checks = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        List<String> passed = new ArrayList<>();
        if (m.accuracy() == null || m.baseAccuracy() == null) {
            checks.add(check("accuracy_drop", "skipped", null, gate.maxAccuracyDrop(),
                    m.accuracy() == null ? "no multiple-choice set" : "no base model"));
        } else {
            double drop = m.baseAccuracy() - m.accuracy();
            String text = String.format(Locale.ROOT, "accuracy %.4f against the base's %.4f (drop %.4f, at most %.4f)",
                    m.accuracy(), m.baseAccuracy(), drop, gate.maxAccuracyDrop());
            record(checks, passed, failed, "accuracy_drop", drop <= gate.maxAccuracyDrop() + 1e-12, drop,
                    gate.maxAccuracyDrop(), text);
        }
        if (gate.heldOutMustBeatBase() && m.heldOutRewardAccuracy() != null) {
            // preferences: beating the base is moving most pairs towards their chosen reply, not the chosen loss,
            // which DPO may raise while it widens the margin
            String text = String.format(Locale.ROOT, "held-out reward accuracy %.4f against the base (more than 0.5 needed)",
                    m.heldOutRewardAccuracy());
            record(checks, passed, failed, "held_out_beats_base", m.heldOutRewardAccuracy() > 0.5, m.heldOutRewardAccuracy(),
                    0.5, text);
        } else if (gate.heldOutMustBeatBase()) {
            if (m.heldOutLoss() == null || m.baseHeldOutLoss() == null) {
                checks.add(check("held_out_beats_base", "skipped", null, m.baseHeldOutLoss(),
                        m.heldOutLoss() == null ? "no held-out set" : "no base model"));
            } else {
                String text = String.format(Locale.ROOT, "held-out loss %.4f against the base's %.4f",
                        m.heldOutLoss(), m.baseHeldOutLoss());
                record(checks, passed, failed, "held_out_beats_base", m.heldOutLoss() < m.baseHeldOutLoss(),
                        m.heldOutLoss(), m.baseHeldOutLoss(), text);
            }
        }
        if (gate.minAccuracy() != null) {
            boolean ok = m.accuracy() != null && m.accuracy() >= gate.minAccuracy();
            record(checks, passed, failed, "min_accuracy", ok, m.accuracy(), gate.minAccuracy(),
                    m.accuracy() == null ? "no accuracy measured, min_accuracy " + gate.minAccuracy()
                            : String.format(Locale.ROOT, "accuracy %.4f, at least %.4f", m.accuracy(), gate.minAccuracy()));
        }
        if (gate.maxHeldOutLoss() != null) {
            boolean ok = m.heldOutLoss() != null && m.heldOutLoss() <= gate.maxHeldOutLoss();
            record(checks, passed, failed, "max_held_out_loss", ok, m.heldOutLoss(), gate.maxHeldOutLoss(),
                    m.heldOutLoss() == null ? "no held-out loss measured, max_held_out_loss " + gate.maxHeldOutLoss()
                            : String.format(Locale.ROOT, "held-out loss %.4f, at most %.4f", m.heldOutLoss(), gate.maxHeldOutLoss()));
        }
        if (!failed.isEmpty()) {
            return new GateVerdict(false, "failed: " + String.join("; ", failed), checks);
        }
        return new GateVerdict(true, passed.isEmpty() ? "passed: no check applied" : "passed: " + String.join("; ", passed),
                checks);
    }

    private static void record(List<Map<String, Object>> checks, List<String> passed, List<String> failed, String name,
            boolean ok, Double value, Double threshold, String text) {
        checks.add(check(name, ok ? "passed" : "failed", value, threshold, text));
        (ok ? passed : failed).add(text);
    }

    private static Map<String, Object> check(String name, String outcome, Double value, Double threshold, String detail) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("name", name);
        c.put("outcome", outcome);
        c.put("value", value);
        c.put("threshold", threshold);
        c.put("detail", detail);
        return c;
    }
}
