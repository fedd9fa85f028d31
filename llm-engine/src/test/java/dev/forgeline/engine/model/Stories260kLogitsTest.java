package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.SharedData;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class Stories260kLogitsTest {

    @Test
    void firstPositionLogitsMatchRunC() throws Exception {
        Path dir = SharedData.model("stories260k");
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (CausalLm model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32)) {
            for (JsonNode p : ref.get("prompts")) {
                int[] ids = new int[p.get("input_ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = p.get("input_ids").get(i).asInt();
                }
                try (NDManager m = model.manager().newSubManager()) {
                    NDArray tokens = model.tokens(m, List.of(ids), ids.length, 0);
                    Step step = Step.uncached(m, model, 1, ids.length);
                    NDArray hidden = model.hidden(tokens, step);
                    float[] logits = model.logitsAt(hidden, step, new int[] {ids.length - 1}).toFloatArray();
                    JsonNode all = p.get("first_logits");
                    double maxDiff = 0;
                    for (int i = 0; i < logits.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(logits[i] - all.get(i).asDouble()));
                    }
                    System.out.println("prompt '" + p.get("prompt").asText() + "' max |diff| " + maxDiff);
                    for (JsonNode top : p.get("first_logits_top5")) {
                        assertEquals(top.get(1).asDouble(), logits[top.get(0).asInt()], 1e-4);
                    }
                }
            }
        }
    }
}
