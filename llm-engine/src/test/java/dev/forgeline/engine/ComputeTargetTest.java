package dev.forgeline.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

/** Device and dtype settings: what the engine can run parses, anything else is refused by name. */
class ComputeTargetTest {

    @Test
    void parsesWhatTheEngineRuns() {
        assertEquals(new ComputeTarget(Device.cpu(), DataType.FLOAT32), ComputeTarget.parse("cpu", "auto"));
        assertEquals(new ComputeTarget(Device.cpu(), DataType.FLOAT32), ComputeTarget.parse(" CPU ", "fp32"));
        assertEquals(new ComputeTarget(Device.cpu(), DataType.FLOAT16), ComputeTarget.parse("cpu", "half"));
    }

    @Test
    void refusesWhatItCannotRun() {
        var bf16 = assertThrows(IllegalArgumentException.class, () -> ComputeTarget.parse("cpu", "bfloat16"));
        assertTrue(bf16.getMessage().contains("bfloat16"), bf16.getMessage());
        var typo = assertThrows(IllegalArgumentException.class, () -> ComputeTarget.parse("cpu", "flaot32"));
        assertTrue(typo.getMessage().contains("flaot32"), typo.getMessage());
        var device = assertThrows(IllegalArgumentException.class, () -> ComputeTarget.parse("tpu", "float32"));
        assertTrue(device.getMessage().contains("tpu"), device.getMessage());
    }
}
