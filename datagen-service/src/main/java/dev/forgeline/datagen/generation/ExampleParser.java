package dev.forgeline.datagen.generation;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads what the teacher wrote, tolerantly: teachers without a JSON mode wrap JSON in code fences or
 * prose, and name the fields differently. What cannot be read is unparseable, never guessed at.
 */
final class ExampleParser {
    private static final List<String> USER_KEYS = List.of("user", "prompt", "question", "instruction", "input");
    private static final List<String> ASSISTANT_KEYS = List.of("assistant", "response", "answer", "output", "completion");

    private ExampleParser() {}

    /** An example from {"messages": [...]}, a bare array of messages, or {"prompt": ..., "response": ...}. */
    static Optional<Conversation> example(String text) {
        JsonNode node = json(text);
        if (node == null) {
            return Optional.empty();
        }
        if (node.isObject() && node.path("messages").isArray()) {
            node = node.get("messages");
        }
        if (node.isArray()) {
            List<ChatTurn> turns = new ArrayList<>();
            for (JsonNode m : node) {
                if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                    return Optional.empty();
                }
                turns.add(new ChatTurn(m.get("role").asText().strip().toLowerCase(java.util.Locale.ROOT), m.get("content").asText().strip()));
            }
            return turns.isEmpty() ? Optional.empty() : Optional.of(new Conversation(turns));
        }
        String user = firstText(node, USER_KEYS);
        String assistant = firstText(node, ASSISTANT_KEYS);
        return user == null || assistant == null ? Optional.empty()
                : Optional.of(new Conversation(List.of(ChatTurn.user(user), ChatTurn.assistant(assistant))));
    }

    /** Topics from {"topics": [...]} or an array; else one a line, list markers removed. */
    static List<String> topics(String text) {
        JsonNode node = json(text);
        if (node != null && node.isObject()) {
            node = node.path("topics");
        }
        List<String> topics = new ArrayList<>();
        if (node != null && node.isArray()) {
            node.forEach(t -> {
                if (t.isTextual() && !t.asText().isBlank()) topics.add(t.asText().strip());
            });
            return topics;
        }
        for (String line : text.split("\n")) {
            String t = line.strip().replaceFirst("^([-*•]|\\d+[.)])\\s*", "").strip();
            if (!t.isEmpty() && t.length() <= 200) {
                topics.add(t);
            }
        }
        return topics;
    }

    /** The JSON in a reply: the whole text, else within code fences, else from the first bracket to the last. */
    private static JsonNode json(String text) {
        if (text == null) {
            return null;
        }
        String t = text.strip();
        int fence = t.indexOf("```");
        if (fence >= 0) {
            int start = t.indexOf('\n', fence);
            int end = t.indexOf("```", fence + 3);
            if (start > 0 && end > start) {
                t = t.substring(start + 1, end).strip();
            }
        }
        JsonNode node = tryParse(t);
        if (node != null) {
            return node;
        }
        for (char[] brackets : new char[][] {{'{', '}'}, {'[', ']'}}) {
            int start = t.indexOf(brackets[0]);
            int end = t.lastIndexOf(brackets[1]);
            if (start >= 0 && end > start) {
                node = tryParse(t.substring(start, end + 1));
                if (node != null) {
                    return node;
                }
            }
        }
        return null;
    }

    private static JsonNode tryParse(String s) {
        try {
            JsonNode node = ContractsJson.mapper().readTree(s);
            return node != null && node.isContainerNode() ? node : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    private static String firstText(JsonNode node, List<String> keys) {
        for (String k : keys) {
            JsonNode v = node.get(k);
            if (v != null && v.isTextual() && !v.asText().isBlank()) {
                return v.asText().strip();
            }
        }
        return null;
    }
}
