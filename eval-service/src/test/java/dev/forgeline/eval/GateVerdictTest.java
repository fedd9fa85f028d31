package dev.forgeline.eval;

import dev.forgeline.contracts.EvalRequest;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GateVerdictTest {
    private static final EvalRequest.Gate DEFAULTS = EvalRequest.Gate.defaults();

    @Test
    void defaultsPassABetterHeldOutLossWithinTheAccuracyTolerance() {
        GateVerdict v = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.25, 0.26, 1.0, 1.2));
        assertTrue(v.passed(), v.reason());
        assertEquals(2, v.checks().size());
    }

    @Test
    void eachDefaultCheckCanFail() {
        GateVerdict drop = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.20, 0.26, 1.0, 1.2));
        assertFalse(drop.passed());
        assertTrue(drop.reason().contains("drop 0.0600, at most 0.0200"), drop.reason());
        GateVerdict loss = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.26, 0.26, 1.2, 1.2));
        assertFalse(loss.passed(), "equal is not better");
        assertTrue(loss.reason().contains("held-out loss 1.2000 against the base's 1.2000"), loss.reason());
    }

    @Test
    void onAPreferenceSetBeatingTheBaseMeansMostPairsMovedTowardsTheChosenReply() {
        // the chosen replies' loss rose, as DPO may make it, and the model still beats its base
        GateVerdict moved = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.25, 0.26, 1.3, 1.2, 0.75));
        assertTrue(moved.passed(), moved.reason());
        assertTrue(moved.reason().contains("held-out reward accuracy 0.7500"), moved.reason());
        GateVerdict half = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.25, 0.26, 1.0, 1.2, 0.5));
        assertFalse(half.passed(), "half the pairs is not better than the base");
    }

    @Test
    void comparisonsWithoutTheirNumbersAreSkippedAbsoluteThresholdsWithoutThemFail() {
        GateVerdict noBase = GateVerdict.judge(DEFAULTS, new GateVerdict.Measured(0.3, null, 1.0, null));
        assertTrue(noBase.passed());
        assertEquals("skipped", noBase.checks().get(0).get("outcome"));
        GateVerdict floor = GateVerdict.judge(new EvalRequest.Gate(null, null, 0.5, null),
                new GateVerdict.Measured(null, null, 1.0, 1.1));
        assertFalse(floor.passed());
        assertTrue(floor.checks().stream().map(Map::values).anyMatch(c -> c.contains("min_accuracy")));
        GateVerdict ceiling = GateVerdict.judge(new EvalRequest.Gate(1.0, false, null, 0.9),
                new GateVerdict.Measured(0.3, 0.3, 1.0, 1.1));
        assertFalse(ceiling.passed());
        assertTrue(ceiling.reason().contains("at most 0.9000"), ceiling.reason());
    }
}
