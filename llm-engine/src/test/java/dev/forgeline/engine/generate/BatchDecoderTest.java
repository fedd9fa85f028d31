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
            batch.remove(seqs.get(0)); // the first row leaves; the last moves into its place
            assertEquals(2, batch.active());
            assertTrue(seqs.get(0).isFinished());
            while (batch.active() > 0) {
                batch.step();
            }
        }
        // the survivors match their solo runs despite the row move
        assertArrayEquals(new Generator(model).generate(prompts[1], params).tokens(), seqs.get(1).tokens());
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
