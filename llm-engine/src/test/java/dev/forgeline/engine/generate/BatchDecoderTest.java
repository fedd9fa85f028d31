package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.Linear;
import dev.forgeline.engine.model.LoraAdapter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The scheduler-facing API on stories260k: joining, leaving, sampling and stopping. */
class BatchDecoderTest {

    private static CausalLm model;
    private static HuggingFaceTokenizer tokenizer;
    private static TokenDecoder decoder;

    @BeforeAll
    static void load() throws Exception {
        Path dir = SharedData.model("stories260k");
        model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
        tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"), Map.of("truncation", "false"));
        decoder = ids -> tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static int[] encode(String text) {
        return Arrays.stream(tokenizer.encode(text, true, false).getIds()).mapToInt(l -> (int) l).toArray();
    }

    @Test
    void sequencesJoiningAndLeavingBetweenStepsGenerateWhatTheyWouldAlone() {
        String[] prompts = {"Once upon a time", "Lily and Ben went to the park", "The little dog", "", "One day, a bird"};
        int[] budgets = {30, 12, 25, 5, 18};
        SamplingParams sampled = SamplingParams.builder().temperature(0.9).topK(40).topP(0.9).seed(11L)
                .repetitionPenalty(1.2).presencePenalty(0.3).frequencyPenalty(0.2).build();
        Map<Integer, Generation> alone = new HashMap<>();
        Generator generator = new Generator(model);
        for (int i = 0; i < prompts.length; i++) {
            SamplingParams p = (i % 2 == 0 ? SamplingParams.greedy() : sampled).toBuilder().maxTokens(budgets[i]).build();
            alone.put(i, generator.generate(encode(prompts[i]), p));
        }
        Map<Integer, Sequence> together = new HashMap<>();
        try (BatchDecoder batch = new BatchDecoder(model, 3, 128)) {
            int next = 0;
            int steps = 0;
            while (next < prompts.length || batch.active() > 0) {
                // Admit whenever a row is free: sequences join mid-flight at different lengths.
                while (next < prompts.length && batch.hasRoom()) {
                    SamplingParams p = (next % 2 == 0 ? SamplingParams.greedy() : sampled).toBuilder()
                            .maxTokens(budgets[next]).build();
                    together.put(next, batch.add(encode(prompts[next]), p, null, null));
                    next++;
                }
                batch.step();
                steps++;
                assertTrue(steps < 200);
            }
        }
        for (int i = 0; i < prompts.length; i++) {
            Generation a = alone.get(i);
            Sequence s = together.get(i);
            assertTrue(s.isFinished());
            assertArrayEquals(a.tokens(), s.tokens(), "sequence " + i);
            assertEquals(FinishReason.LENGTH, s.finishReason());
            assertEquals(budgets[i], s.tokens().length);
        }
    }

    /**
     * Steps go through the Java-side kernel unless an adapter is attached, when the tensor path
     * takes them. A fresh LoRA adapter (B = 0) changes nothing, so both give the same tokens.
     */
    @Test
    void anUnmergedAdapterSendsStepsThroughTheTensorPathWithTheSameResult() {
        int[] prompt = encode("Once upon a time");
        SamplingParams greedy = SamplingParams.builder().maxTokens(60).build();
        try (CausalLm adapted = CausalLm.load(SharedData.model("stories260k"), Device.cpu(), DataType.FLOAT32)) {
            int[] kernel = new Generator(adapted).generate(prompt, greedy).tokens();
            Linear qkv = adapted.projection("model.layers.0.self_attn.q_proj");
            qkv.attach("q_proj", LoraAdapter.create(adapted.manager(), (int) qkv.inFeatures(),
                    (int) qkv.outFeatures("q_proj"), 4, 8f, 0f, 3, DataType.FLOAT32));
            assertTrue(adapted.hasAdapters());
            int[] tensor = new Generator(adapted).generate(prompt, greedy).tokens();
            assertEquals(60, kernel.length);
            assertArrayEquals(kernel, tensor);
        }
    }

    @Test
    void removingASequenceKeepsTheOthersIntact() {
        int[][] prompts = {encode("Once upon a time"), encode("The little dog"), encode("Lily and Ben went to the park")};
        SamplingParams params = SamplingParams.builder().maxTokens(20).build();
        List<Sequence> seqs = new ArrayList<>();
        try (BatchDecoder batch = new BatchDecoder(model, 3, 128)) {
            for (int[] p : prompts) {
                seqs.add(batch.add(p, params, null, null));
            }
            for (int i = 0; i < 5; i++) {
                batch.step();
            }
            assertEquals(2, seqs.get(2).row);
            batch.remove(seqs.get(0)); // the first row leaves; the last moves into its place
            assertEquals(2, batch.active());
            assertTrue(seqs.get(0).isFinished());
            assertEquals(0, seqs.get(2).row, "the last sequence moved into the freed row");
            assertEquals(1, seqs.get(1).row);
            while (batch.active() > 0) {
                batch.step();
            }
        }
        // the survivors match their solo runs despite the row move: the one that stayed and the one that moved
        int[][] alone = new int[3][];
        for (int i = 0; i < 3; i++) {
            alone[i] = new Generator(model).generate(prompts[i], params).tokens();
        }
        assertDistinct(alone);
        assertEquals(6, seqs.get(0).tokens().length); // the prefill's token and five steps'
        assertArrayEquals(Arrays.copyOf(alone[0], 6), seqs.get(0).tokens());
        assertArrayEquals(alone[1], seqs.get(1).tokens(), "the sequence that kept its row");
        assertArrayEquals(alone[2], seqs.get(2).tokens(), "the sequence moved from row 2 to row 0");
    }

    /**
     * Rows that retire in the middle of the batch by finishing during {@link BatchDecoder#step}
     * hand their row to the last one ({@code KvCache.moveRow}): the moved sequences go on from
     * the copied keys and values exactly as they would alone. Five greedy sequences of different
     * budgets: after the 6th token rows 1 and 4 retire in the same step (row 4's sequence first
     * moves into row 1 and then, retiring too, hands row 1 to row 3's); after the 12th row 0
     * retires and row 2's moves into it. The moved sequences then decode 23 and 28 more tokens.
     */
    @Test
    void sequencesMovedIntoARetiredRowGoOnAsTheyWouldAlone() {
        String[] prompts = {"Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a bird",
                "Tom had a big red ball"};
        int[] budgets = {12, 6, 40, 35, 6};
        int[][] alone = new int[prompts.length][];
        for (int i = 0; i < prompts.length; i++) {
            alone[i] = new Generator(model).generate(encode(prompts[i]), SamplingParams.builder().maxTokens(budgets[i]).build())
                    .tokens();
        }
        assertDistinct(alone); // a sequence given another's row or tokens would not match its own
        Sequence[] seqs = new Sequence[prompts.length];
        List<List<Integer>> rowsOverTime = new ArrayList<>();
        try (BatchDecoder batch = new BatchDecoder(model, prompts.length, 128)) {
            for (int i = 0; i < prompts.length; i++) {
                seqs[i] = batch.add(encode(prompts[i]), SamplingParams.builder().maxTokens(budgets[i]).build(), null, null);
            }
            for (int steps = 0; batch.active() > 0; steps++) {
                assertTrue(steps < 100);
                List<Sequence> finished = batch.step();
                if (!finished.isEmpty()) {
                    List<Integer> rows = new ArrayList<>();
                    for (Sequence s : seqs) {
                        rows.add(s.row);
                    }
                    rowsOverTime.add(rows);
                }
            }
        }
        // the moves this test is about did happen: after the first retirements (rows 1 and 4), the
        // sequence of row 3 sits in row 1; after row 0's, row 2's sits in row 0
        assertEquals(List.of(List.of(0, -1, 2, 1, -1), List.of(-1, -1, 0, 1, -1), List.of(-1, -1, 0, -1, -1),
                List.of(-1, -1, -1, -1, -1)), rowsOverTime);
        for (int i = 0; i < prompts.length; i++) {
            assertEquals(FinishReason.LENGTH, seqs[i].finishReason(), "sequence " + i);
            assertArrayEquals(alone[i], seqs[i].tokens(), "sequence " + i + " (" + prompts[i] + ")");
        }
    }

    private static void assertDistinct(int[][] outputs) {
        for (int i = 0; i < outputs.length; i++) {
            for (int j = i + 1; j < outputs.length; j++) {
                int common = Math.min(outputs[i].length, outputs[j].length);
                assertFalse(Arrays.equals(Arrays.copyOf(outputs[i], common), Arrays.copyOf(outputs[j], common)),
                        "sequences " + i + " and " + j + " would be indistinguishable");
            }
        }
    }

    @Test
    void seedsReproduceAndStopStringsEndWithoutTheStopText() {
        Generator generator = new Generator(model);
        int[] prompt = encode("Once upon a time");
        SamplingParams p = SamplingParams.builder().temperature(1.0).topP(0.95).seed(5L).maxTokens(40).build();
        Generation a = generator.generate(prompt, p, decoder, null);
        Generation b = generator.generate(prompt, p, decoder, null);
        Generation c = generator.generate(prompt, p.toBuilder().seed(6L).build(), decoder, null);
        assertArrayEquals(a.tokens(), b.tokens());
        assertNotEquals(Arrays.toString(a.tokens()), Arrays.toString(c.tokens()));

        // Greedy output is ", there was a little girl named Lily. She loved ..."
        List<String> streamed = new ArrayList<>();
        Generation stopped = generator.generate(prompt, SamplingParams.builder().stopStrings(List.of("Lily."))
                .maxTokens(100).build(), decoder, (id, delta, lp) -> streamed.add(delta));
        assertEquals(FinishReason.STOP, stopped.finishReason());
        assertEquals(", there was a little girl named ", stopped.text());
        assertEquals(stopped.text(), String.join("", streamed));
        assertTrue(stopped.tokens().length < 15);
        assertFalse(stopped.text().contains("Lily"));

        Generation byToken = generator.generate(prompt, SamplingParams.builder().stopTokenIds(java.util.Set.of(383))
                .maxTokens(100).build());
        assertEquals(FinishReason.STOP, byToken.finishReason());
        assertEquals(383, byToken.tokens()[byToken.tokens().length - 1]);
    }
}
