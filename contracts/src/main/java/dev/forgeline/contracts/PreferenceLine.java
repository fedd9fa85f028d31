package dev.forgeline.contracts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One line of a preference (DPO) dataset in TRL's layout, and the one set of rules for reading it:
 * datagen's importer and the trainer's reader both parse with {@link #parse} / {@link #of}.
 *
 * <pre>
 *   {"prompt": "...", "chosen": "...", "rejected": "..."}                                    standard
 *   {"prompt": [{"role": "user", "content": "..."}],
 *    "chosen": [{"role": "assistant", "content": "..."}], "rejected": [{"role": "assistant", ...}]}  conversational
 * </pre>
 *
 * {@code messages} may stand for {@code prompt} (the conversation up to its last user turn); a
 * reply may also be one message object. OpenAI's DPO fine-tuning lines ({@code input.messages},
 * {@code preferred_output}, {@code non_preferred_output}) read the same way. {@link #toJson()} writes the conversational shape.
 *
 * @param prompt   system, user, assistant or tool turns ending with a user turn
 * @param chosen   the preferred assistant reply (y_w)
 * @param rejected the dispreferred assistant reply (y_l)
 */
public record PreferenceLine(List<ChatTurn> prompt, ChatTurn chosen, ChatTurn rejected) {

    /** Why a line is not a preference pair; the message names the field, e.g. {@code chosen[0].role must be assistant}. */
    public static final class Invalid extends IllegalArgumentException {
        public Invalid(String message, Throwable cause) {
            super(message, cause);
        }

        public Invalid(String message) {
            super(message);
        }
    }

    /** Roles a prompt may hold, as in the chat SFT format. */
    public static final Set<String> PROMPT_ROLES = Set.of("system", "user", "assistant", "tool");

    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    public PreferenceLine {
        prompt = List.copyOf(prompt);
    }

    /** One JSONL line as a pair; {@link Invalid} says what is wrong. */
    public static PreferenceLine parse(String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new Invalid("not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        return of(node);
    }

    /** One parsed JSON value as a pair; {@link Invalid} says what is wrong. */
    public static PreferenceLine of(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new Invalid("expected an object with \"prompt\" (or \"messages\"), \"chosen\" and \"rejected\","
                    + " or OpenAI's \"input\", \"preferred_output\" and \"non_preferred_output\"");
        }
        if (node.has("input") || node.has("preferred_output") || node.has("non_preferred_output")) {
            return ofOpenAi(node);
        }
        String field = node.has("prompt") ? "prompt" : "messages";
        JsonNode prompt = node.get(field);
        if (prompt == null) {
            throw new Invalid("missing \"prompt\" (a string, or messages up to the last user turn)");
        }
        return new PreferenceLine(promptEndingWithUser(prompt, field), reply(node, "chosen"), reply(node, "rejected"));
    }

    /** OpenAI's DPO fine-tuning line: {@code input.messages} up to the last user turn, one assistant message in each output. */
    private static PreferenceLine ofOpenAi(JsonNode node) {
        JsonNode input = node.get("input");
        if (input == null || !input.isObject() || input.get("messages") == null) {
            throw new Invalid("missing \"input\": {\"messages\": [...]} (the conversation up to the last user turn)");
        }
        return new PreferenceLine(promptEndingWithUser(input.get("messages"), "input.messages"), reply(node, "preferred_output"),
                reply(node, "non_preferred_output"));
    }

    private static List<ChatTurn> promptEndingWithUser(JsonNode prompt, String field) {
        List<ChatTurn> turns = promptTurns(prompt, field);
        if (!turns.get(turns.size() - 1).role().equals("user")) {
            throw new Invalid("\"" + field + "\" must end with a user turn, ends with " + turns.get(turns.size() - 1).role());
        }
        return turns;
    }

    /**
     * A prompt field's turns: a string is one user turn, else a non-empty array of messages with
     * {@link #PROMPT_ROLES} and string contents. Does not check which turn comes last.
     */
    public static List<ChatTurn> promptTurns(JsonNode prompt, String field) {
        List<ChatTurn> turns = new ArrayList<>();
        if (prompt.isTextual()) {
            turns.add(ChatTurn.user(prompt.asText()));
        } else if (prompt.isArray() && !prompt.isEmpty()) {
            for (int i = 0; i < prompt.size(); i++) {
                turns.add(message(prompt.get(i), field + "[" + i + "]", PROMPT_ROLES));
            }
        } else {
            throw new Invalid("\"" + field + "\" must be a string or a non-empty array of messages");
        }
        return turns;
    }

    /** TRL's conversational shape: the prompt's messages, and each reply as a list of one assistant message. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", prompt);
        m.put("chosen", List.of(chosen));
        m.put("rejected", List.of(rejected));
        return m;
    }

    private static ChatTurn reply(JsonNode node, String field) {
        JsonNode r = node.get(field);
        if (r == null) {
            throw new Invalid("missing \"" + field + "\"");
        }
        if (r.isTextual()) {
            return ChatTurn.assistant(r.asText());
        }
        if (r.isArray()) {
            if (r.size() != 1) {
                throw new Invalid("\"" + field + "\" must hold exactly one assistant message, holds " + r.size());
            }
            return message(r.get(0), field + "[0]", Set.of("assistant"));
        }
        if (r.isObject()) {
            return message(r, field, Set.of("assistant"));
        }
        throw new Invalid("\"" + field + "\" must be a string or an assistant message");
    }

    private static ChatTurn message(JsonNode m, String where, Set<String> roles) {
        JsonNode role = m.get("role");
        JsonNode content = m.get("content");
        if (role == null || !role.isTextual() || !roles.contains(role.asText())) {
            throw new Invalid(where + ".role must be " + (roles.size() == 1 ? roles.iterator().next()
                    : "one of " + roles.stream().sorted().toList()));
        }
        if (content == null || !content.isTextual()) {
            throw new Invalid(where + ".content must be a string");
        }
        return new ChatTurn(role.asText(), content.asText());
    }
}
