package dev.forgeline.datagen.importers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads the dataset formats people already have into chat examples, the mapping being LLaMA-Factory's
 * and Axolotl's: Alpaca, Dolly, ShareGPT, OpenAI chat and prompt/completion, as JSON Lines or as one
 * JSON array. A line that cannot be used is reported with its number and why; the rest is read.
 */
public final class DatasetImporter {
    /** One line the importer could not use: 1-based line number (array element for a JSON array) and why. */
    public record MalformedLine(int line, String reason) {}

    public record Imported(List<Conversation> examples, List<MalformedLine> malformed, int lines) {}

    /** A line that is not an example of the format. */
    private static final class Malformed extends Exception {
        Malformed(String reason) {
            super(reason, null, false, false);
        }
    }

    private static final Map<String, String> SHAREGPT_ROLES = Map.of("human", "user", "user", "user", "gpt", "assistant",
            "assistant", "assistant", "bot", "assistant", "chatgpt", "assistant", "system", "system");

    private DatasetImporter() {}

    public static Imported read(InputStream in, DatagenRequest.Format format) throws IOException {
        List<String> lines = new ArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line = r.readLine(); line != null; line = r.readLine()) {
            lines.add(line);
        }
        List<Conversation> examples = new ArrayList<>();
        List<MalformedLine> malformed = new ArrayList<>();
        String whole = String.join("\n", lines).strip();
        if (whole.startsWith("[")) {
            JsonNode array;
            try {
                array = ContractsJson.mapper().readTree(whole);
            } catch (IOException e) {
                return new Imported(List.of(), List.of(new MalformedLine(1, "not a JSON array: " + firstLine(e.getMessage()))), 1);
            }
            for (int i = 0; i < array.size(); i++) {
                add(array.get(i), format, i + 1, examples, malformed);
            }
            return new Imported(examples, malformed, array.size());
        }
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            JsonNode node;
            try {
                node = ContractsJson.mapper().readTree(lines.get(i));
            } catch (IOException e) {
                malformed.add(new MalformedLine(i + 1, "not JSON: " + firstLine(e.getMessage())));
                continue;
            }
            add(node, format, i + 1, examples, malformed);
        }
        return new Imported(examples, malformed, lines.size());
    }

    private static void add(JsonNode node, DatagenRequest.Format format, int line, List<Conversation> examples,
            List<MalformedLine> malformed) {
        try {
            if (node == null || !node.isObject()) {
                throw new Malformed("not a JSON object");
            }
            examples.add(new Conversation(switch (format) {
                case ALPACA -> alpaca(node);
                case DOLLY -> List.of(ChatTurn.user(joined(text(node, "instruction"), optional(node, "context"))),
                        ChatTurn.assistant(text(node, "response")));
                case SHAREGPT -> shareGpt(node);
                case OPENAI -> openAi(node);
                case PROMPT_COMPLETION -> List.of(ChatTurn.user(text(node, "prompt")), ChatTurn.assistant(text(node, "completion")));
            }));
        } catch (Malformed e) {
            malformed.add(new MalformedLine(line, e.getMessage()));
        }
    }

    /** {@code system}, then {@code history} as [user, assistant] pairs, then instruction (+ input) and output. */
    private static List<ChatTurn> alpaca(JsonNode node) throws Malformed {
        List<ChatTurn> turns = new ArrayList<>();
        String system = optional(node, "system");
        if (!system.isEmpty()) turns.add(ChatTurn.system(system));
        JsonNode history = node.get("history");
        if (history != null && !history.isNull()) {
            if (!history.isArray()) throw new Malformed("\"history\" is not a list of [user, assistant] pairs");
            for (JsonNode pair : history) {
                if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isTextual()) {
                    throw new Malformed("\"history\" is not a list of [user, assistant] pairs");
                }
                turns.add(ChatTurn.user(pair.get(0).asText().strip()));
                turns.add(ChatTurn.assistant(pair.get(1).asText().strip()));
            }
        }
        turns.add(ChatTurn.user(joined(text(node, "instruction"), optional(node, "input"))));
        turns.add(ChatTurn.assistant(text(node, "output")));
        return turns;
    }

    private static List<ChatTurn> shareGpt(JsonNode node) throws Malformed {
        JsonNode conversations = node.get("conversations");
        if (conversations == null || !conversations.isArray() || conversations.isEmpty()) {
            throw new Malformed("missing \"conversations\" (a list of {from, value})");
        }
        List<ChatTurn> turns = new ArrayList<>();
        for (JsonNode m : conversations) {
            String from = text(m, "from");
            String role = SHAREGPT_ROLES.get(from.toLowerCase(java.util.Locale.ROOT));
            if (role == null) throw new Malformed("unknown \"from\": \"" + from + "\"");
            turns.add(new ChatTurn(role, text(m, "value")));
        }
        return turns;
    }

    private static List<ChatTurn> openAi(JsonNode node) throws Malformed {
        JsonNode messages = node.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw new Malformed("missing \"messages\" (a list of {role, content})");
        }
        List<ChatTurn> turns = new ArrayList<>();
        for (JsonNode m : messages) {
            String role = text(m, "role");
            if (!List.of("system", "user", "assistant").contains(role)) {
                throw new Malformed("role \"" + role + "\" is not system, user or assistant");
            }
            turns.add(new ChatTurn(role, text(m, "content")));
        }
        return turns;
    }

    /** A required non-blank string field, stripped. */
    private static String text(JsonNode node, String field) throws Malformed {
        JsonNode v = node == null ? null : node.get(field);
        if (v == null || v.isNull()) throw new Malformed("missing \"" + field + "\"");
        if (!v.isTextual()) throw new Malformed("\"" + field + "\" is not a string");
        if (v.asText().isBlank()) throw new Malformed("\"" + field + "\" is empty");
        return v.asText().strip();
    }

    /** An optional string field, stripped; "" when absent or null. */
    private static String optional(JsonNode node, String field) throws Malformed {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return "";
        if (!v.isTextual()) throw new Malformed("\"" + field + "\" is not a string");
        return v.asText().strip();
    }

    private static String joined(String instruction, String more) {
        return more.isEmpty() ? instruction : instruction + "\n\n" + more;
    }

    private static String firstLine(String message) {
        String m = message == null ? "" : message;
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
