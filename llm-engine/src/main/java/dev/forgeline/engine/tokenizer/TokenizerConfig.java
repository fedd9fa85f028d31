package dev.forgeline.engine.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The parts of a model folder's {@code tokenizer_config.json} that matter outside transformers'
 * Python classes: special tokens, BOS/EOS flags, the length limit and the chat templates.
 *
 * <p>Special tokens appear either as plain strings or as serialized {@code AddedToken} objects
 * ({@code {"__type": "AddedToken", "content": "<s>", ...}}); both read as their content.
 *
 * @param bosToken beginning-of-sequence token text, or null
 * @param eosToken end-of-sequence token text, or null
 * @param unkToken unknown token text, or null
 * @param padToken padding token text, or null
 * @param addBosToken {@code add_bos_token} when the file states it (Llama-style tokenizers)
 * @param addEosToken {@code add_eos_token} when the file states it
 * @param modelMaxLength {@code model_max_length}; absent when missing or the "unbounded" sentinel
 * @param cleanUpTokenizationSpaces whether decode removes spaces before punctuation
 * @param addedTokens {@code added_tokens_decoder}: id to token
 * @param chatTemplates named chat templates; a single-string template is named "default"
 */
public record TokenizerConfig(
        String bosToken,
        String eosToken,
        String unkToken,
        String padToken,
        Optional<Boolean> addBosToken,
        Optional<Boolean> addEosToken,
        OptionalInt modelMaxLength,
        boolean cleanUpTokenizationSpaces,
        Map<Integer, AddedToken> addedTokens,
        Map<String, String> chatTemplates) {

    /** One entry of {@code added_tokens_decoder}. */
    public record AddedToken(String content, boolean special) {}

    static final ObjectMapper JSON = new ObjectMapper();

    /** transformers writes {@code int(1e30)} (VERY_LARGE_INTEGER) when a tokenizer has no limit. */
    private static final double UNBOUNDED_MAX_LENGTH = 1e20;

    public TokenizerConfig {
        addedTokens = Collections.unmodifiableMap(new LinkedHashMap<>(addedTokens));
        chatTemplates = Collections.unmodifiableMap(new LinkedHashMap<>(chatTemplates));
    }

    /** An empty configuration, for a model folder without {@code tokenizer_config.json}. */
    public static TokenizerConfig empty() {
        return new TokenizerConfig(null, null, null, null, Optional.empty(), Optional.empty(),
                OptionalInt.empty(), false, Map.of(), Map.of());
    }

    /**
     * Reads {@code tokenizer_config.json} from a model folder, or returns {@link #empty()} when
     * the folder has none. A {@code chat_template.jinja} file next to it (the newer transformers
     * layout) supplies the default template when the JSON has none.
     */
    public static TokenizerConfig load(Path modelDir) {
        Path file = modelDir.resolve("tokenizer_config.json");
        TokenizerConfig config;
        try {
            config = Files.exists(file) ? parse(JSON.readTree(file.toFile())) : empty();
            Path jinja = modelDir.resolve("chat_template.jinja");
            if (!config.chatTemplates.containsKey("default") && Files.exists(jinja)) {
                Map<String, String> templates = new LinkedHashMap<>(config.chatTemplates);
                templates.put("default", Files.readString(jinja));
                config = new TokenizerConfig(config.bosToken, config.eosToken, config.unkToken,
                        config.padToken, config.addBosToken, config.addEosToken,
                        config.modelMaxLength, config.cleanUpTokenizationSpaces,
                        config.addedTokens, templates);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return config;
    }

    /** Parses the JSON tree of a {@code tokenizer_config.json}. */
    public static TokenizerConfig parse(JsonNode root) {
        Map<Integer, AddedToken> added = new LinkedHashMap<>();
        JsonNode decoder = root.path("added_tokens_decoder");
        decoder.fieldNames().forEachRemaining(id -> {
            JsonNode token = decoder.get(id);
            added.put(Integer.parseInt(id),
                    new AddedToken(token.path("content").asText(), token.path("special").asBoolean(false)));
        });

        Map<String, String> templates = new LinkedHashMap<>();
        JsonNode template = root.path("chat_template");
        if (template.isTextual()) {
            templates.put("default", template.asText());
        } else if (template.isArray()) {
            for (JsonNode named : template) {
                templates.put(named.path("name").asText(), named.path("template").asText());
            }
        }

        OptionalInt maxLength = OptionalInt.empty();
        JsonNode max = root.path("model_max_length");
        if (max.isNumber() && max.asDouble() < UNBOUNDED_MAX_LENGTH) {
            maxLength = OptionalInt.of(max.asInt());
        }

        return new TokenizerConfig(
                tokenText(root.get("bos_token")),
                tokenText(root.get("eos_token")),
                tokenText(root.get("unk_token")),
                tokenText(root.get("pad_token")),
                optionalBoolean(root.get("add_bos_token")),
                optionalBoolean(root.get("add_eos_token")),
                maxLength,
                root.path("clean_up_tokenization_spaces").asBoolean(false),
                added,
                templates);
    }

    /** The default chat template, if the model has one. */
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(chatTemplates.get("default"));
    }

    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isObject()) {
            JsonNode content = node.get("content");
            return content == null || content.isNull() ? null : content.asText();
        }
        return node.asText();
    }

    private static Optional<Boolean> optionalBoolean(JsonNode node) {
        return node == null || !node.isBoolean() ? Optional.empty() : Optional.of(node.asBoolean());
    }
}
