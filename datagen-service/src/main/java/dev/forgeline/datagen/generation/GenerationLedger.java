package dev.forgeline.datagen.generation;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.jobs.ArtifactStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a generation has made so far, in the artifact store under {@code datagen/{job}/}: the kept
 * examples in parts ({@code part-00001.jsonl}, ...) and {@code state.json} with the system prompt,
 * the topics, the number of parts and the counts. A part is written before the state that names it,
 * so a restarted job reads a consistent whole: the examples and the counts of the same moment.
 */
final class GenerationLedger {
    /** The plan and progress of a generation as last saved. */
    record Saved(String systemPrompt, List<String> topics, List<Conversation> kept, GenerationStats stats, int parts) {}

    private record State(String systemPrompt, List<String> topics, int parts, Map<String, Object> stats) {}

    private final ArtifactStore store;
    private final String dir;

    GenerationLedger(ArtifactStore store, String jobId) {
        this.store = store;
        this.dir = "datagen/" + jobId + "/";
    }

    Optional<Saved> load() throws IOException {
        if (!store.exists(dir + "state.json")) {
            return Optional.empty();
        }
        State state = ContractsJson.mapper().readValue(store.read(dir + "state.json"), State.class);
        List<Conversation> kept = new ArrayList<>();
        for (int p = 1; p <= state.parts(); p++) {
            String text = new String(store.read(part(p)), StandardCharsets.UTF_8);
            for (String line : text.split("\n")) {
                if (!line.isBlank()) {
                    kept.add(ContractsJson.mapper().readValue(line, Conversation.class));
                }
            }
        }
        return Optional.of(new Saved(state.systemPrompt(), state.topics(), kept,
                GenerationStats.fromMap(state.stats()), state.parts()));
    }

    /**
     * Saves the examples kept since the last save as part {@code parts} (when there are any) and
     * then the state. Returns the checkpoint marker.
     */
    String save(String systemPrompt, List<String> topics, List<Conversation> newlyKept, int parts, GenerationStats stats)
            throws IOException {
        if (!newlyKept.isEmpty()) {
            StringBuilder jsonl = new StringBuilder();
            for (Conversation c : newlyKept) {
                jsonl.append(ContractsJson.mapper().writeValueAsString(c)).append('\n');
            }
            store.write(part(parts), jsonl.toString().getBytes(StandardCharsets.UTF_8));
        }
        Map<String, Object> counts = ContractsJson.mapper().convertValue(stats.toMap(), new TypeReference<>() {});
        store.write(dir + "state.json", ContractsJson.mapper().writeValueAsBytes(new State(systemPrompt, topics, parts, counts)));
        return "part-" + parts;
    }

    void clear() throws IOException {
        store.delete(dir);
    }

    private String part(int p) {
        return dir + String.format("part-%05d.jsonl", p);
    }
}
