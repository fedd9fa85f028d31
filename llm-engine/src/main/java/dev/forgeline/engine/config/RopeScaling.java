package dev.forgeline.engine.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.engine.ModelFormatException;

/**
 * The {@code rope_scaling} entry of config.json. {@code none} keeps the plain frequencies,
 * {@code linear} divides every frequency by {@code factor} (position interpolation), and
 * {@code llama3} rescales only the low frequencies, blending in between (Llama 3.1).
 */
public record RopeScaling(
        String type,
        double factor,
        double lowFreqFactor,
        double highFreqFactor,
        int originalMaxPositionEmbeddings) {

    public static final RopeScaling NONE = new RopeScaling("none", 1.0, 1.0, 4.0, 0);

    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 1.0, 4.0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMax) {
        return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMax);
    }

    public boolean isNone() {
        return "none".equals(type);
    }

    static RopeScaling fromJson(JsonNode node) {
        if (node == null || node.isNull()) {
            return NONE;
        }
        // transformers renamed "type" to "rope_type"; files in the wild carry either.
        String type = node.hasNonNull("rope_type") ? node.get("rope_type").asText() : node.path("type").asText("none");
        double factor = node.path("factor").asDouble(1.0);
        switch (type) {
            case "default":
            case "none":
                return NONE;
            case "linear":
                return linear(factor);
            case "llama3":
                return llama3(
                        factor,
                        node.path("low_freq_factor").asDouble(1.0),
                        node.path("high_freq_factor").asDouble(4.0),
                        node.path("original_max_position_embeddings").asInt(8192));
            default:
                throw new ModelFormatException(
                        "rope_scaling type '" + type + "' is not supported (supported: none, linear, llama3)");
        }
    }
}
