package dev.forgeline.datagen.importers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Turns one JSON object of a known dataset format into a conversation, the way LLaMA-Factory
 * and Axolotl read these formats. Positions inside lists are 0-based, as in a JSON path
 * ({@code messages[2]}).
 */
final class ExampleMapping {
    private ExampleMapping() {}

    /** Why one object cannot become an example; caught per line, so no stack trace is needed. */
    static final class UnusableExample extends DatasetImporter.UnusableLine {
        UnusableExample(String reason) {
            super(reason);
        }
    }

    static DatagenRequest.Conversation toConversation(JsonNode object, DatagenRequest.Format format) {
        List<ChatTurn> turns = switch (format) {
            case ALPACA -> alpaca(object);
            case DOLLY -> dolly(object);
            case SHAREGPT -> shareGpt(object);
            case OPENAI -> openAi(object);
            case PROMPT_COMPLETION -> List.of(
                    ChatTurn.user(requiredText(object, "prompt", "")),
                    ChatTurn.assistant(requiredText(object, "completion", "")));
            case PREFERENCE -> throw new IllegalArgumentException("a preference line is a pair, not a conversation");
        };
        return new DatagenRequest.Conversation(turns);
    }

    private static List<ChatTurn> alpaca(JsonNode object) {
        List<ChatTurn> turns = new ArrayList<>();
        String system = optionalText(object, "system", "");
        if (!system.isEmpty()) turns.add(ChatTurn.system(system));
        JsonNode history = object.get("history");
        if (history != null && !history.isNull()) {
            if (!history.isArray()) throw new UnusableExample("\"history\" is not a list");
            for (int i = 0; i < history.size(); i++) {
                JsonNode pair = history.get(i);
                String where = "history[" + i + "]: ";
                if (!pair.isArray() || pair.size() != 2) {
                    throw new UnusableExample(where + "not a [user, assistant] pair");
                }
                turns.add(ChatTurn.user(pairText(pair.get(0), where + "user")));
                turns.add(ChatTurn.assistant(pairText(pair.get(1), where + "assistant")));
            }
        }
        String instruction = requiredText(object, "instruction", "");
        String input = optionalText(object, "input", "");
        turns.add(ChatTurn.user(joinNonBlank(instruction, input)));
        turns.add(ChatTurn.assistant(requiredText(object, "output", "")));
        return turns;
    }

    private static List<ChatTurn> dolly(JsonNode object) {
        String instruction = requiredText(object, "instruction", "");
        String context = optionalText(object, "context", "");
        return List.of(
                ChatTurn.user(joinNonBlank(instruction, context)),
                ChatTurn.assistant(requiredText(object, "response", "")));
    }

    private static List<ChatTurn> shareGpt(JsonNode object) {
        List<ChatTurn> turns = new ArrayList<>();
        // LLaMA-Factory also accepts the system prompt as a top-level field.
        String system = optionalText(object, "system", "");
        if (!system.isEmpty()) turns.add(ChatTurn.system(system));
        JsonNode conversations = requiredList(object, "conversations");
        for (int i = 0; i < conversations.size(); i++) {
            String where = "conversations[" + i + "]: ";
            JsonNode message = messageObject(conversations.get(i), where);
            String from = requiredText(message, "from", where);
            String role = switch (from.toLowerCase(Locale.ROOT)) {
                case "human", "user" -> "user";
                case "gpt", "assistant", "bot", "chatgpt" -> "assistant";
                case "system" -> "system";
                default -> throw new UnusableExample(where + "unknown \"from\" \"" + from + "\"");
            };
            turns.add(new ChatTurn(role, requiredText(message, "value", where)));
        }
        return turns;
    }

    private static List<ChatTurn> openAi(JsonNode object) {
        JsonNode messages = requiredList(object, "messages");
        List<ChatTurn> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            String where = "messages[" + i + "]: ";
            JsonNode message = messageObject(messages.get(i), where);
            String role = requiredText(message, "role", where);
            if (!role.equals("system") && !role.equals("user") && !role.equals("assistant")) {
                // Tool and function turns have no place in a plain chat example.
                throw new UnusableExample(where + "unsupported role \"" + role + "\"");
            }
            turns.add(new ChatTurn(role, requiredText(message, "content", where)));
        }
        return turns;
    }

    /** The instruction alone, or it and its input/context separated by a blank line, as Alpaca's template does. */
    private static String joinNonBlank(String instruction, String extra) {
        return extra.isEmpty() ? instruction : instruction + "\n\n" + extra;
    }

    private static JsonNode messageObject(JsonNode message, String where) {
        if (!message.isObject()) throw new UnusableExample(where + "not an object");
        return message;
    }

    private static JsonNode requiredList(JsonNode object, String field) {
        JsonNode list = object.get(field);
        if (list == null || list.isNull()) throw new UnusableExample("missing \"" + field + "\"");
        if (!list.isArray()) throw new UnusableExample("\"" + field + "\" is not a list");
        if (list.isEmpty()) throw new UnusableExample("\"" + field + "\" is empty");
        return list;
    }

    /** The field's text, stripped; absent, null, non-text or blank makes the example unusable. */
    private static String requiredText(JsonNode object, String field, String where) {
        JsonNode value = object.get(field);
        if (value == null || value.isNull()) throw new UnusableExample(where + "missing \"" + field + "\"");
        String text = optionalText(object, field, where);
        if (text.isEmpty()) throw new UnusableExample(where + "\"" + field + "\" is blank");
        return text;
    }

    /** The field's text, stripped, or "" when absent or null; a non-text value is still an error. */
    private static String optionalText(JsonNode object, String field, String where) {
        JsonNode value = object.get(field);
        if (value == null || value.isNull()) return "";
        if (!value.isTextual()) {
            throw new UnusableExample(where + "\"" + field + "\" is not a string but " + kind(value));
        }
        return value.textValue().strip();
    }

    private static String pairText(JsonNode value, String what) {
        if (!value.isTextual()) throw new UnusableExample(what + " is not a string but " + kind(value));
        String text = value.textValue().strip();
        if (text.isEmpty()) throw new UnusableExample(what + " is blank");
        return text;
    }

    /** A JSON type name for reasons people read: "a number", "a list", "an object". */
    static String kind(JsonNode value) {
        return switch (value.getNodeType()) {
            case ARRAY -> "a list";
            case OBJECT, POJO -> "an object";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL, MISSING -> "null";
            case STRING -> "a string";
            case BINARY -> "binary data";
        };
    }
}
