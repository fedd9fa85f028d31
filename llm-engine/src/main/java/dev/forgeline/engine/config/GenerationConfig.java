package dev.forgeline.engine.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * generation_config.json: the model author's default decoding settings. Absent fields stay
 * null so a request's own settings can tell "not set" from "set to the default".
 */
public record GenerationConfig(
        Integer bosTokenId,
        List<Integer> eosTokenIds,
        Integer padTokenId,
        Boolean doSample,
        Double temperature,
        Double topP,
        Integer topK,
        Double repetitionPenalty,
        Integer maxNewTokens) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public GenerationConfig {
        eosTokenIds = eosTokenIds == null ? List.of() : List.copyOf(eosTokenIds);
    }

    public static GenerationConfig empty() {
        return new GenerationConfig(null, List.of(), null, null, null, null, null, null, null);
    }

    /** Reads dir/generation_config.json, or falls back to config.json's bos/eos when absent. */
    public static GenerationConfig read(Path dir, ModelConfig model) {
        Path file = dir.resolve("generation_config.json");
        if (!Files.exists(file)) {
            return new GenerationConfig(model.bosTokenId(), model.eosTokenIds(), null, null, null, null, null, null, null);
        }
        try {
            return fromJson(JSON.readTree(file.toFile()));
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public static GenerationConfig fromJson(String json) {
        try {
            return fromJson(JSON.readTree(json));
        } catch (IOException e) {
            throw new ModelFormatException("malformed generation_config.json: " + e.getMessage(), e);
        }
    }

    static GenerationConfig fromJson(JsonNode n) {
        return new GenerationConfig(
                n.hasNonNull("bos_token_id") ? n.get("bos_token_id").asInt() : null,
                ModelConfig.ids(n.get("eos_token_id")),
                n.hasNonNull("pad_token_id") ? n.get("pad_token_id").asInt() : null,
                n.hasNonNull("do_sample") ? n.get("do_sample").asBoolean() : null,
                n.hasNonNull("temperature") ? n.get("temperature").asDouble() : null,
                n.hasNonNull("top_p") ? n.get("top_p").asDouble() : null,
                n.hasNonNull("top_k") ? n.get("top_k").asInt() : null,
                n.hasNonNull("repetition_penalty") ? n.get("repetition_penalty").asDouble() : null,
                n.hasNonNull("max_new_tokens") ? n.get("max_new_tokens").asInt() : null);
    }

    public String toJson() {
        var n = JSON.createObjectNode();
        if (bosTokenId != null) n.put("bos_token_id", bosTokenId);
        if (eosTokenIds.size() == 1) {
            n.put("eos_token_id", eosTokenIds.get(0));
        } else if (!eosTokenIds.isEmpty()) {
            var a = n.putArray("eos_token_id");
            eosTokenIds.forEach(a::add);
        }
        if (padTokenId != null) n.put("pad_token_id", padTokenId);
        if (doSample != null) n.put("do_sample", doSample);
        if (temperature != null) n.put("temperature", temperature);
        if (topP != null) n.put("top_p", topP);
        if (topK != null) n.put("top_k", topK);
        if (repetitionPenalty != null) n.put("repetition_penalty", repetitionPenalty);
        if (maxNewTokens != null) n.put("max_new_tokens", maxNewTokens);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
