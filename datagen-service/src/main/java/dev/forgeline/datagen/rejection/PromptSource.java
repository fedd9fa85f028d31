package dev.forgeline.datagen.rejection;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.PreferenceLine;
import dev.forgeline.datagen.importers.DatasetImport;
import dev.forgeline.datagen.importers.DatasetImporter;
import dev.forgeline.datagen.importers.DatasetImporter.UnusableLine;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a rejection-sampling request's {@code prompts}: a {@code .jsonl} file, or a dataset's
 * {@code train.jsonl}. A line holds {@code prompt} (a string or messages ending with a user turn,
 * by {@link PreferenceLine}'s rules) or {@code messages} (cut after the last user turn; the assistant
 * reply right after it, if any, becomes the reference), and optionally {@code reference}, which wins.
 * Unusable lines are reported with their numbers, as the importer does.
 */
public final class PromptSource {
    private PromptSource() {}

    /** The artifact path, URI or file that {@code prompts} names. */
    public static String file(String prompts) {
        if (prompts.endsWith(".jsonl")) return prompts;
        if (prompts.startsWith("file:") || prompts.startsWith("/")) {
            return prompts.endsWith("/") ? prompts + "train.jsonl" : prompts + "/train.jsonl";
        }
        if (prompts.contains("/") || prompts.contains("\\") || prompts.equals(".") || prompts.equals("..")) {
            throw new IllegalArgumentException("prompts '" + prompts + "' is neither a .jsonl file nor a dataset id");
        }
        return "datasets/" + prompts + "/train.jsonl";
    }

    public static DatasetImporter.Imported<SamplePrompt> read(DatasetImport files, String prompts) throws IOException {
        int[] index = {0};
        try (InputStream in = files.open(file(prompts))) {
            return DatasetImporter.read(in, node -> parse(node, index[0]++));
        }
    }

    static SamplePrompt parse(JsonNode node, int index) {
        try {
            List<ChatTurn> turns;
            String reference = null;
            if (node.has("prompt")) {
                turns = PreferenceLine.promptTurns(node.get("prompt"), "prompt");
                if (!turns.get(turns.size() - 1).role().equals("user")) {
                    throw new UnusableLine("\"prompt\" must end with a user turn");
                }
            } else if (node.has("messages")) {
                List<ChatTurn> all = PreferenceLine.promptTurns(node.get("messages"), "messages");
                int lastUser = -1;
                for (int i = 0; i < all.size(); i++) {
                    if (all.get(i).role().equals("user")) lastUser = i;
                }
                if (lastUser < 0) throw new UnusableLine("\"messages\" has no user turn");
                turns = new ArrayList<>(all.subList(0, lastUser + 1));
                if (lastUser + 1 < all.size() && all.get(lastUser + 1).role().equals("assistant")) {
                    reference = all.get(lastUser + 1).content();
                }
            } else {
                throw new UnusableLine("missing \"prompt\" or \"messages\"");
            }
            JsonNode ref = node.get("reference");
            if (ref != null && !ref.isNull()) {
                if (!ref.isTextual()) throw new UnusableLine("\"reference\" must be a string");
                reference = ref.textValue();
            }
            return new SamplePrompt(index, turns, reference);
        } catch (PreferenceLine.Invalid e) {
            throw new UnusableLine(e.getMessage());
        }
    }
}
