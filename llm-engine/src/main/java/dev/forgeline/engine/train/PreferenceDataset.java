package dev.forgeline.engine.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.forgeline.engine.tokenizer.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads preference data for DPO in TRL's layout, one JSON object per line:
 *
 * <pre>
 *   {"prompt": "...", "chosen": "...", "rejected": "..."}                                    standard
 *   {"prompt": [{"role": "user", "content": "..."}],
 *    "chosen": [{"role": "assistant", "content": "..."}], "rejected": [{"role": "assistant", ...}]}  conversational
 * </pre>
 *
 * {@code messages} may stand for {@code prompt} (the conversation up to its last user turn); a
 * reply may also be one message object. OpenAI's DPO files are read too: {@code input.messages}
 * is the prompt, {@code preferred_output} and {@code non_preferred_output} the replies (other
 * fields of {@code input}, such as {@code tools}, are ignored). Blank lines are skipped; any other
 * line that is not a pair fails with its line number, as {@link ChatDataset} does.
 */
public final class PreferenceDataset {

    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private static final Set<String> PROMPT_ROLES = Set.of("system", "user", "assistant", "tool");

    private PreferenceDataset() {}

    /** Every pair of {@code file}; fails when the file is missing, malformed or holds no pair. */
    public static List<PreferenceExample> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException("dataset file " + file + " does not exist", new NoSuchFileException(file.toString()));
        }
        List<PreferenceExample> pairs = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    pairs.add(parseLine(line));
                } catch (DatasetException e) {
                    throw new DatasetException(file.getFileName() + ":" + number + ": " + e.getMessage(), e.getCause());
                }
            }
        } catch (IOException e) {
            throw new DatasetException("cannot read dataset " + file + ": " + e.getMessage(), e);
        }
        if (pairs.isEmpty()) {
            throw new DatasetException("dataset " + file + " holds no preference pairs");
        }
        return pairs;
    }

    /** One JSONL line as a pair; a {@link DatasetException} says what is wrong. */
    public static PreferenceExample parseLine(String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DatasetException("not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        if (node == null || !node.isObject()) {
            throw new DatasetException("expected an object with \"prompt\" (or \"messages\"), \"chosen\" and \"rejected\","
                    + " or OpenAI's \"input\", \"preferred_output\" and \"non_preferred_output\"");
        }
        if (node.has("input") || node.has("preferred_output") || node.has("non_preferred_output")) {
            return parseOpenAi(node);
        }
        JsonNode prompt = node.has("prompt") ? node.get("prompt") : node.get("messages");
        String promptField = node.has("prompt") ? "prompt" : "messages";
        if (prompt == null) {
            throw new DatasetException("missing \"prompt\" (a string, or messages up to the last user turn)");
        }
        return new PreferenceExample(promptMessages(prompt, promptField), reply(node, "chosen"), reply(node, "rejected"));
    }

    /** OpenAI's DPO line: {@code input.messages} up to the last user turn, one assistant message in each output. */
    private static PreferenceExample parseOpenAi(JsonNode node) {
        JsonNode input = node.get("input");
        if (input == null || !input.isObject() || input.get("messages") == null) {
            throw new DatasetException("missing \"input\": {\"messages\": [...]} (the conversation up to the last user turn)");
        }
        return new PreferenceExample(promptMessages(input.get("messages"), "input.messages"), reply(node, "preferred_output"),
                reply(node, "non_preferred_output"));
    }

    private static List<ChatMessage> promptMessages(JsonNode prompt, String promptField) {
        List<ChatMessage> messages = new ArrayList<>();
        if (prompt.isTextual()) {
            messages.add(ChatMessage.user(prompt.asText()));
        } else if (prompt.isArray() && !prompt.isEmpty()) {
            for (int i = 0; i < prompt.size(); i++) {
                messages.add(message(prompt.get(i), promptField + "[" + i + "]", PROMPT_ROLES));
            }
        } else {
            throw new DatasetException("\"" + promptField + "\" must be a string or a non-empty array of messages");
        }
        if (!messages.get(messages.size() - 1).role().equals("user")) {
            throw new DatasetException("\"" + promptField + "\" must end with a user turn, ends with "
                    + messages.get(messages.size() - 1).role());
        }
        return messages;
    }

    private static ChatMessage reply(JsonNode node, String field) {
        JsonNode r = node.get(field);
        if (r == null) {
            throw new DatasetException("missing \"" + field + "\"");
        }
        if (r.isTextual()) {
            return ChatMessage.assistant(r.asText());
        }
        if (r.isArray()) {
            if (r.size() != 1) {
                throw new DatasetException("\"" + field + "\" must hold exactly one assistant message, holds " + r.size());
            }
            return message(r.get(0), field + "[0]", Set.of("assistant"));
        }
        if (r.isObject()) {
            return message(r, field, Set.of("assistant"));
        }
        throw new DatasetException("\"" + field + "\" must be a string or an assistant message");
    }

    private static ChatMessage message(JsonNode m, String where, Set<String> roles) {
        JsonNode role = m.get("role");
        JsonNode content = m.get("content");
        if (role == null || !role.isTextual() || !roles.contains(role.asText())) {
            throw new DatasetException(where + ".role must be " + (roles.size() == 1 ? roles.iterator().next()
                    : "one of " + roles.stream().sorted().toList()));
        }
        if (content == null || !content.isTextual()) {
            throw new DatasetException(where + ".content must be a string");
        }
        return new ChatMessage(role.asText(), content.asText());
    }
}
