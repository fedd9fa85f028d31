package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.generate.BatchDecoder;
import dev.forgeline.engine.generate.PromptLogprobs;
import dev.forgeline.engine.generate.SamplingParams;
import dev.forgeline.engine.generate.Sequence;
import dev.forgeline.engine.generate.TokenLogprobs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A model loaded with {@link WeightLayout#PACKED} holds its projections in the kernel's tiles
 * alone (a tied head's tiles serving the embedding lookups) and still computes what the tensor
 * path computes: a prompt's logits at every position, and what a batch decodes.
 */
class PackedLayoutTest {

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of("llama-gqa-untied", TinyModels.llamaGqaUntied()),
                Arguments.of("qwen2-bias-tied", TinyModels.qwen2Bias()),
                Arguments.of("llama3-rope-scaling-tied", TinyModels.llama3RopeScaling()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void servesWhatTheTensorPathComputes(String name, ModelConfig shape, @TempDir Path dir) {
        VectorWidth.assumeSixteenFloats("PackedLayoutTest(" + name + ")");
        ModelConfig config = shape.toBuilder().maxPositionEmbeddings(256).build();
        TinyModels.write(dir, config, 7).close();
        try (CausalLm tensors = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32, WeightLayout.TENSORS);
                CausalLm packed = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32, WeightLayout.PACKED)) {
            assertTrue(packed.packedOnly(), name + " loads packed");
            for (String projection : packed.projectionNames()) {
                assertNull(packed.projection(projection).weight(), projection + ": libtorch's copy freed");
                assertNotNull(packed.projection(projection).packed(), projection + " packed");
            }
            assertEquals(config.tieWordEmbeddings(), packed.embedTokens() == null, "a tied head's tiles hold the embedding");

            // A prompt's own log-probabilities: every position through lm_head, against one tensor forward (nothing packed yet).
            int[] prompt = TinyModels.randomIds(150, config.vocabSize(), 3); // three prefill chunks
            assertTrue(tensors.projection("lm_head").packed() == null, "the tensor model is not packed yet");
            List<TokenLogprobs> expected = PromptLogprobs.of(tensors, prompt, 1, 5);
            List<TokenLogprobs> actual = PromptLogprobs.of(packed, prompt, 1, 5);
            assertEquals(prompt.length - 1, actual.size());
            double maxDiff = 0;
            for (int t = 0; t < expected.size(); t++) {
                maxDiff = Math.max(maxDiff, Math.abs(expected.get(t).logprob() - actual.get(t).logprob()));
                assertArrayEquals(expected.get(t).topIds(), actual.get(t).topIds(), name + " top ids at " + t);
            }
            assertTrue(maxDiff < 1e-4, name + ": max |packed - tensor| logprob " + maxDiff);

            // Greedy decoding of a batch: the same tokens from both layouts.
            assertEquals(decode(tensors, config), decode(packed, config), name + " greedy tokens");

            NDManager m = packed.manager();
            assertThrows(IllegalStateException.class, () -> packed.hidden(packed.tokens(m, List.of(new int[] {1, 2, 3, 4}), 4, 0),
                    Step.uncached(m, packed, 1, 4)), "no tensor path on a packed model");
            Linear q = packed.projection("model.layers.0.self_attn.q_proj");
            assertThrows(IllegalStateException.class, () -> q.attach("q_proj", LoraAdapter.create(m, (int) q.inFeatures(),
                    (int) q.outFeatures("q_proj"), 4, 8f, 0f, 1, DataType.FLOAT32)), "no adapter on a packed model");
        }
    }

    private static List<List<Integer>> decode(CausalLm model, ModelConfig config) {
        SamplingParams greedy = SamplingParams.builder().temperature(0).maxTokens(20).build();
        List<Sequence> sequences = new ArrayList<>();
        try (BatchDecoder decoder = new BatchDecoder(model, 3, 128)) {
            for (int b = 0; b < 3; b++) {
                sequences.add(decoder.add(TinyModels.randomIds(5 + 9 * b, config.vocabSize(), 10 + b), greedy, null, null));
            }
            while (decoder.active() > 0) {
                decoder.step();
            }
        }
        return sequences.stream().map(s -> java.util.Arrays.stream(s.tokens()).boxed().toList()).toList();
    }
}
