package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.config.GenerationConfig;
import dev.forgeline.engine.config.ModelConfig;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** End to end against llama2.c's run.c outputs recorded in shared/models/stories260k/reference.json. */
class Stories260kGenerationTest {

    private static Path dir;
    private static JsonNode prompts;
    private static CausalLm model;
    private static HuggingFaceTokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        dir = SharedData.model("stories260k");
        prompts = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("prompts");
        model = CausalLm.load(dir, Device.cpu(), DataType.FLOAT32);
        // DJL truncates at 512 tokens unless told otherwise.
        tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"), Map.of("truncation", "false"));
    }

    @AfterAll
    static void close() {
        model.close();
        tokenizer.close();
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static String decode(int[] ids) {
        return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), true);
    }

    @Test
    void greedyGenerationReproducesRunC() {
        Generator generator = new Generator(model);
        for (JsonNode p : prompts) {
            int[] input = Arrays.stream(tokenizer.encode(p.get("prompt").asText(), true, false).getIds())
                    .mapToInt(l -> (int) l).toArray();
            assertArrayEquals(ints(p.get("input_ids")), input, "encoded prompt");
            int[] expected = ints(p.get("greedy_ids"));
            StringBuilder streamed = new StringBuilder();
            Generation g = generator.generate(input, SamplingParams.builder().maxTokens(expected.length).build(),
                    Stories260kGenerationTest::decode, (id, delta, lp) -> streamed.append(delta));
            assertArrayEquals(expected, g.tokens(), "greedy ids for '" + p.get("prompt").asText() + "'");
            assertEquals(FinishReason.LENGTH, g.finishReason());
            assertEquals(p.get("greedy_text").asText(), g.text());
            assertEquals(g.text(), streamed.toString());
            int[] all = new int[input.length + g.tokens().length];
            System.arraycopy(input, 0, all, 0, input.length);
            System.arraycopy(g.tokens(), 0, all, input.length, g.tokens().length);
            assertEquals(p.get("full_text").asText(), decode(all));
        }
    }

    /** Each token's logprobs, reported by the step that sampled it, against log-softmax in float64 of one plain forward. */
    @Test
    void logprobsComeFromTheSamplingStep() {
        int[] input = ints(prompts.get(0).get("input_ids"));
        List<TokenLogprobs> reported = new ArrayList<>();
        Generation g = new Generator(model).generate(input, SamplingParams.builder().maxTokens(24).logprobs(5).build(),
                null, (id, delta, lp) -> reported.add(lp));
        int[] tokens = g.tokens();
        assertEquals(tokens.length, reported.size());
        int[] all = new int[input.length + tokens.length - 1]; // the last token predicts nothing reported
        System.arraycopy(input, 0, all, 0, input.length);
        System.arraycopy(tokens, 0, all, input.length, tokens.length - 1);
        float[] flat;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            flat = model.forward(model.tokens(m, List.of(all), all.length, 0), Step.uncached(m, model, 1, all.length))
                    .toFloatArray(); // (T * vocab)
        }
        int vocab = model.config().vocabSize();
        double worst = 0;
        for (int i = 0; i < tokens.length; i++) {
            int base = (input.length - 1 + i) * vocab;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, flat[base + v]);
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += Math.exp(flat[base + v] - max);
            double logZ = max + Math.log(sum);
            TokenLogprobs lp = reported.get(i);
            assertEquals(tokens[i], lp.token());
            assertEquals(5, lp.topIds().length);
            assertEquals(tokens[i], lp.topIds()[0], "greedy: the sampled token is the most likely");
            worst = Math.max(worst, Math.abs(flat[base + tokens[i]] - logZ - lp.logprob()));
            for (int j = 0; j < 5; j++) {
                if (j > 0) assertTrue(lp.topLogprobs()[j] <= lp.topLogprobs()[j - 1], "most likely first");
                worst = Math.max(worst, Math.abs(flat[base + lp.topIds()[j]] - logZ - lp.topLogprobs()[j]));
            }
        }
        assertTrue(worst < 1e-4, "logprobs differ from the plain forward by " + worst);
    }

    @Test
    void generationConfigStopsWhereRunCStops() {
        ModelConfig config = model.config();
        GenerationConfig gen = GenerationConfig.read(dir, config);
        assertEquals(java.util.List.of(2, 1), gen.eosTokenIds());
        SamplingParams params = SamplingParams.builder(gen).build(); // greedy, eos [2, 1], no token limit
        Generator generator = new Generator(model);
        int checked = 0;
        for (JsonNode p : prompts) {
            int[] expected = ints(p.get("greedy_ids_until_stop"));
            int last = expected[expected.length - 1];
            if (!gen.eosTokenIds().contains(last)) {
                continue; // run.c ran into seq_len, not a stop token
            }
            Generation g = generator.generate(ints(p.get("input_ids")), params);
            assertArrayEquals(expected, g.tokens(), "until stop for '" + p.get("prompt").asText() + "'");
            assertEquals(FinishReason.STOP, g.finishReason());
            checked++;
        }
        assertTrue(checked >= 3, "reference has three runs that end on BOS");
    }
}
