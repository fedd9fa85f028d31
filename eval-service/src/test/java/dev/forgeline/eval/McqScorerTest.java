package dev.forgeline.eval;

import dev.forgeline.engine.ComputeTarget;
import dev.forgeline.engine.LoadedModel;
import dev.forgeline.engine.SharedData;
import dev.forgeline.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The batched scorer against {@link OneForwardPerChoice} on stories260k: 300 MMLU test items
 * over six subjects (one with passages long enough that shots are dropped and prompts cut),
 * 0-shot and 2-shot. Every choice's summed log-likelihood within 1e-4, the same prediction, the
 * same shots and truncation.
 */
class McqScorerTest {
    static final List<String> SUBJECTS = List.of("abstract_algebra", "anatomy", "astronomy", "college_mathematics",
            "high_school_european_history", "high_school_geography");
    private static LoadedModel model;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        model = LoadedModel.load(SharedData.model("stories260k"), ComputeTarget.cpu());
        tokenizer = Tokenizer.load(SharedData.model("stories260k"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        model.close();
    }

    static List<Question> questions(McqSet set, List<String> subjects, int perSubject, int shots) {
        List<Question> out = new ArrayList<>();
        for (String s : subjects) {
            List<McqItem> dev = set.dev(s).subList(0, shots);
            set.test(s).subList(0, perSubject).forEach(item -> out.add(new Question(item, dev)));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2})
    void batchedScoresEqualOneForwardPerChoice(int shots) {
        List<Question> questions = questions(McqSet.read(SharedSets.mmlu()), SUBJECTS, 50, shots);
        assertEquals(300, questions.size());
        List<Integer> reported = new ArrayList<>();
        // a small batch budget: many forwards of different lengths
        List<ItemResult> batched = new McqScorer(model, tokenizer, 4096).score(questions, shots, reported::add);
        assertEquals(300, reported.get(reported.size() - 1), "progress reaches every item");
        OneForwardPerChoice reference = new OneForwardPerChoice(model, tokenizer);
        int fewerShots = 0;
        int truncated = 0;
        double worst = 0;
        for (int i = 0; i < questions.size(); i++) {
            ItemResult got = batched.get(i);
            OneForwardPerChoice.Scored want = reference.score(questions.get(i), shots);
            String what = questions.get(i).item().subject() + " item " + questions.get(i).item().index();
            assertEquals(questions.get(i).item(), got.item(), what);
            assertEquals(want.shots(), got.shots(), what + ": shots kept");
            assertEquals(want.truncated(), got.truncatedTokens(), what + ": tokens cut");
            assertEquals(want.prediction(), got.prediction(), what + ": prediction");
            for (int c = 0; c < 4; c++) {
                assertEquals(want.loglikelihoods()[c], got.loglikelihoods()[c], 1e-4, what + ", choice " + c);
                assertEquals(want.tokens()[c], got.tokens()[c], what + ", choice " + c + " tokens");
                worst = Math.max(worst, Math.abs(want.loglikelihoods()[c] - got.loglikelihoods()[c]));
            }
            fewerShots += got.shots() < shots ? 1 : 0;
            truncated += got.truncatedTokens() > 0 ? 1 : 0;
        }
        System.out.printf("%d-shot: 300 items, %d with fewer shots, %d cut from the left, max |ll diff| %.2e%n",
                shots, fewerShots, truncated, worst);
        assertTrue(truncated > 0, "the long passages must exercise the cut from the left");
        if (shots > 0) {
            assertTrue(fewerShots > 0, "some 2-shot prompts must drop shots to fit 512 positions");
        }
    }
}
