package dev.forgeline.datagen.rejection;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.jobs.ArtifactStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The prompts a rejection-sampling job has sampled and scored so far, in the artifact store under
 * {@code rejection-sampling/{job}/} as parts ({@code part-00001.jsonl}, ...), one prompt's index,
 * answers, scores and policy tokens a line. The job records marker {@code part-N} after part N is written, so a
 * resumed job reads parts 1..N and asks the policy only for the other prompts; the prompts
 * themselves are read again from the source.
 */
public final class SampleLedger {
    /** Save after this many new prompts, or {@link #SAVE_EVERY_NANOS} after the last save. */
    public static final int SAVE_EVERY_PROMPTS = 25;
    static final long SAVE_EVERY_NANOS = 5_000_000_000L;

    @JsonIgnoreProperties(ignoreUnknown = true)
    private record Line(int index, List<String> answers, List<Double> scores, long promptTokens, long completionTokens) {}

    private final ArtifactStore store;
    private final String dir;
    private final List<PromptSamples> unsaved = new ArrayList<>();
    private int parts;
    private long lastSave = System.nanoTime();

    public SampleLedger(ArtifactStore store, String jobId) {
        this.store = store;
        this.dir = "rejection-sampling/" + jobId + "/";
    }

    /** The saved samples up to marker {@code part-N}, by prompt index; prompts no longer in the source are skipped. */
    public Map<Integer, PromptSamples> load(String marker, List<SamplePrompt> prompts) throws IOException {
        Map<Integer, SamplePrompt> byIndex = new HashMap<>();
        prompts.forEach(p -> byIndex.put(p.index(), p));
        Map<Integer, PromptSamples> done = new HashMap<>();
        parts = Integer.parseInt(marker.substring("part-".length()));
        for (int p = 1; p <= parts; p++) {
            for (String line : new String(store.read(part(p)), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) continue;
                Line l = ContractsJson.mapper().readValue(line, Line.class);
                SamplePrompt prompt = byIndex.get(l.index());
                if (prompt != null) done.put(l.index(), new PromptSamples(prompt, l.answers(), l.scores(),
                        l.promptTokens(), l.completionTokens()));
            }
        }
        return done;
    }

    /** Adds one finished prompt; returns the marker to record when this wrote a part. */
    public java.util.Optional<String> add(PromptSamples samples, boolean last) throws IOException {
        unsaved.add(samples);
        if (!last && unsaved.size() < SAVE_EVERY_PROMPTS && System.nanoTime() - lastSave < SAVE_EVERY_NANOS) {
            return java.util.Optional.empty();
        }
        StringBuilder jsonl = new StringBuilder();
        for (PromptSamples s : unsaved) {
            jsonl.append(ContractsJson.write(new Line(s.prompt().index(), s.answers(), s.scores(),
                    s.promptTokens(), s.completionTokens()))).append('\n');
        }
        parts++;
        store.write(part(parts), jsonl.toString().getBytes(StandardCharsets.UTF_8));
        unsaved.clear();
        lastSave = System.nanoTime();
        return java.util.Optional.of("part-" + parts);
    }

    private String part(int p) {
        return dir + String.format("part-%05d.jsonl", p);
    }
}
