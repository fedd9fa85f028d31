package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.Step;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ContinuationScorerTest {

    /** log softmax of the full forward, summed over the continuation: the definition. */
    private static double reference(CausalLm model, int[] ctx, int[] cont) {
        int[] all = new int[ctx.length + cont.length];
        System.arraycopy(ctx, 0, all, 0, ctx.length);
        System.arraycopy(cont, 0, all, ctx.length, cont.length);
        int vocab = model.config().vocabSize();
        float[] logits;
        try (NDManager m = model.manager().newSubManager()) {
            logits = model.forward(model.tokens(m, List.of(all), all.length, 0), Step.uncached(m, model, 1, all.length))
                    .toFloatArray();
        }
        double sum = 0;
        for (int j = 0; j < cont.length; j++) {
            int pos = ctx.length - 1 + j;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[pos * vocab + v]);
            }
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[pos * vocab + v] - max);
            }
            sum += logits[pos * vocab + cont[j]] - max - Math.log(z);
        }
        return sum;
    }

    @Test
    void scoresMatchTheDefinitionAndGreedyContinuationsAreRecognised() throws Exception {
        var ref = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(SharedData.model("stories260k").resolve("reference.json").toFile()).get("prompts");
        try (LoadedModel loaded = LoadedModel.load(SharedData.model("stories260k"), ComputeTarget.cpu())) {
            List<ContinuationScorer.Choices> requests = new ArrayList<>();
            for (var p : ref) {
                int[] input = new int[p.get("input_ids").size()];
                for (int i = 0; i < input.length; i++) input[i] = p.get("input_ids").get(i).asInt();
                int[] greedy = new int[p.get("greedy_ids").size()];
                for (int i = 0; i < greedy.length; i++) greedy[i] = p.get("greedy_ids").get(i).asInt();
                int[] other = Arrays.copyOf(greedy, 3);
                other[1] = (other[1] + 7) % 512; // not the argmax
                int[] one = {greedy[0]};
                // run.c's greedy choice, an altered one, and a one-token one share the context; they branch
                requests.add(new ContinuationScorer.Choices(input, List.of(Arrays.copyOf(greedy, 12), other, one)));
                // inputs that are prefixes of one another ([], g0..g2, g0..g2) read one row
                int[] lastAltered = Arrays.copyOf(greedy, 4);
                lastAltered[3] = (lastAltered[3] + 7) % 512;
                requests.add(new ContinuationScorer.Choices(input, List.of(one, lastAltered, Arrays.copyOf(greedy, 4))));
            }
            // a batch of 64 tokens splits the prompts over several forwards
            List<List<ContinuationScorer.Score>> scores = loaded.scorer(64).score(requests);
            for (int i = 0; i < requests.size(); i++) {
                ContinuationScorer.Choices r = requests.get(i);
                for (int c = 0; c < r.continuations().size(); c++) {
                    ContinuationScorer.Score s = scores.get(i).get(c);
                    assertEquals(reference(loaded.model(), r.context(), r.continuations().get(c)), s.logprob(), 1e-4);
                    assertEquals(r.continuations().get(c).length, s.tokens());
                    if (c == 1) {
                        assertFalse(s.greedy(), "altered continuation of request " + i);
                    } else {
                        assertTrue(s.greedy(), "run.c's greedy continuation of request " + i + ", choice " + c);
                    }
                }
            }
        }
    }
}
