package dev.forgeline.datagen.cleaning;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.datagen.cleaning.Deduplicator.Verdict;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.forgeline.contracts.ChatTurn.assistant;
import static dev.forgeline.contracts.ChatTurn.system;
import static dev.forgeline.contracts.ChatTurn.user;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeduplicatorTest {
    private static Conversation chat(ChatTurn... turns) {
        return new Conversation(List.of(turns));
    }

    /** {@code n} words drawn from a vocabulary of 5,000, so two random texts share almost no 3-shingles. */
    private static List<String> randomWords(Random random, int n) {
        List<String> words = new ArrayList<>(n);
        for (int i = 0; i < n; i++) words.add("w" + random.nextInt(5_000));
        return words;
    }

    private static Conversation qa(List<String> question, List<String> answer) {
        return chat(user(String.join(" ", question)), assistant(String.join(" ", answer)));
    }

    private static double trueJaccard(Conversation a, Conversation b) {
        return WordShingles.jaccard(shingles(a), shingles(b));
    }

    private static long[] shingles(Conversation c) {
        return WordShingles.hashes(WordShingles.words(c.messages().stream()
                .filter(t -> !"system".equals(t.role())).map(ChatTurn::content).toList()));
    }

    @Test
    void exactDuplicatesIgnoreCaseSpacingSurroundingPunctuationAndTheSystemPrompt() {
        Deduplicator dedup = new Deduplicator(0.8, 1);
        assertEquals(Verdict.NEW, dedup.offer(chat(user("What is Java?"), assistant("Java is a programming language."))));
        assertEquals(Verdict.EXACT, dedup.offer(chat(user("  what   is JAVA "), assistant("java is a\nprogramming  language"))));
        assertEquals(Verdict.EXACT, dedup.offer(chat(system("Be nice."), user("What is Java?"),
                assistant("Java is a programming language."))));
        assertEquals(1, dedup.size());
    }

    @Test
    void innerPunctuationIsNotExactButIsNear() {
        Deduplicator dedup = new Deduplicator(0.8, 1);
        assertEquals(Verdict.NEW, dedup.offer(chat(user("What is a+b when both are 2?"), assistant("It is 4."))));
        // the exact key keeps "a-b" apart from "a+b"; the words are the same, so the shingles are too
        assertEquals(Verdict.NEAR, dedup.offer(chat(user("What is a-b when both are 2?"), assistant("It is 4."))));
    }

    @Test
    void oneWordChangedInAFortyWordAnswerIsNear() {
        Random random = new Random(7);
        List<String> question = randomWords(random, 8);
        List<String> answer = randomWords(random, 40);
        List<String> changed = new ArrayList<>(answer);
        changed.set(20, "different");
        Conversation original = qa(question, answer);
        Conversation edited = qa(question, changed);
        double j = trueJaccard(original, edited);
        assertTrue(j > 0.8 && j < 0.9, "one changed word removes 3 of 46 shingles, J = " + j);

        Deduplicator dedup = new Deduplicator(0.7, 42);
        assertEquals(Verdict.NEW, dedup.offer(original));
        assertEquals(Verdict.NEAR, dedup.offer(edited));
        assertEquals(1, dedup.size());
    }

    @Test
    void unrelatedTextsAreNew() {
        Deduplicator dedup = new Deduplicator(0.7, 42);
        assertEquals(Verdict.NEW, dedup.offer(chat(user("How do I boil an egg?"),
                assistant("Put the egg in boiling water for seven minutes, then cool it in cold water."))));
        assertEquals(Verdict.NEW, dedup.offer(chat(user("What does HTTP 404 mean?"),
                assistant("The server could not find the resource at the requested URL."))));
        assertEquals(Verdict.NEW, dedup.offer(chat(user("Translate 'cat' into French."), assistant("Chat."))));
        assertEquals(3, dedup.size());
    }

    @Test
    void thresholdIsRespected() {
        Random random = new Random(11);
        List<String> shared = randomWords(random, 30);
        List<String> a = new ArrayList<>(shared);
        a.addAll(randomWords(random, 10));
        List<String> b = new ArrayList<>(shared);
        b.addAll(randomWords(random, 10));
        Conversation first = qa(List.of("tell", "me"), a);
        Conversation second = qa(List.of("tell", "me"), b);
        double j = trueJaccard(first, second);
        assertTrue(j > 0.45 && j < 0.65, "J = " + j);

        Deduplicator strict = new Deduplicator(0.8, 3);
        assertEquals(Verdict.NEW, strict.offer(first));
        assertEquals(Verdict.NEW, strict.offer(second));

        Deduplicator loose = new Deduplicator(0.45, 3);
        assertEquals(Verdict.NEW, loose.offer(first));
        assertEquals(Verdict.NEAR, loose.offer(second));
    }

    @Test
    void shortTextsUseSingleWords() {
        Deduplicator dedup = new Deduplicator(0.9, 5);
        assertEquals(Verdict.NEW, dedup.offer(chat(user("Hi"), assistant("Hello"))));
        // "hello hi" has no 3-word shingle; as single words it is the same set
        assertEquals(Verdict.NEAR, dedup.offer(chat(user("Hello"), assistant("Hi"))));
        assertEquals(Verdict.NEW, dedup.offer(chat(user("Hi"), assistant("Bye"))));
    }

    @Test
    void rowsPerBandCatchTheThreshold() {
        Deduplicator at07 = new Deduplicator(0.7, 0);
        assertEquals(4, at07.rows());
        assertEquals(32, at07.bands());
        assertEquals(2, Deduplicator.rowsFor(0.5));
        assertEquals(8, Deduplicator.rowsFor(0.9));
        assertEquals(16, Deduplicator.rowsFor(1.0));
        assertTrue(Deduplicator.candidateProbability(0.7, 4, 32) > 0.999);
        // and a pair far below the threshold rarely costs an exact comparison
        assertTrue(Deduplicator.candidateProbability(0.2, 4, 32) < 0.05);
        assertThrows(IllegalArgumentException.class, () -> new Deduplicator(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new Deduplicator(1.5, 1));
        assertThrows(IllegalArgumentException.class, () -> new Deduplicator(Double.NaN, 1));
    }

    @Test
    void signatureAgreementEstimatesJaccard() {
        Random random = new Random(5);
        Deduplicator dedup = new Deduplicator(0.8, 99);
        for (int trial = 0; trial < 20; trial++) {
            List<String> shared = randomWords(random, 60);
            List<String> a = new ArrayList<>(shared);
            a.addAll(randomWords(random, 20));
            List<String> b = new ArrayList<>(randomWords(random, 20));
            b.addAll(shared);
            long[] sa = WordShingles.hashes(a);
            long[] sb = WordShingles.hashes(b);
            long[] sigA = dedup.signature(sa);
            long[] sigB = dedup.signature(sb);
            int agree = 0;
            for (int i = 0; i < sigA.length; i++) if (sigA[i] == sigB[i]) agree++;
            double estimate = agree / (double) sigA.length;
            double exact = WordShingles.jaccard(sa, sb);
            // the standard error of a 128-hash estimate is sqrt(J(1-J)/128) <= 0.045; allow 4 of them
            assertTrue(Math.abs(estimate - exact) < 0.18, "estimate " + estimate + " vs exact " + exact);
        }
    }

    @Test
    void nearDuplicatesAtTheThresholdAreCaught() {
        // a miss happens only when LSH finds no candidate, P = (1 - J^4)^32 per pair
        Random random = new Random(13);
        Deduplicator dedup = new Deduplicator(0.7, 17);
        int near = 0;
        for (int i = 0; i < 200; i++) {
            List<String> answer = randomWords(random, 60);
            List<String> edited = new ArrayList<>(answer);
            edited.set(30, "edited");
            edited.set(45, "again");
            assertEquals(Verdict.NEW, dedup.offer(qa(List.of("question", "" + i), answer)));
            if (dedup.offer(qa(List.of("question", "" + i), edited)) == Verdict.NEAR) near++;
        }
        assertEquals(200, near);
        assertEquals(200, dedup.size());
    }

    @Test
    void concurrentOffersKeepEachExampleOnce() throws Exception {
        Random random = new Random(21);
        List<Conversation> examples = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) examples.add(qa(randomWords(random, 10), randomWords(random, 60)));

        Deduplicator dedup = new Deduplicator(0.8, 8);
        Map<Verdict, AtomicInteger> counts = new EnumMap<>(Verdict.class);
        for (Verdict v : Verdict.values()) counts.put(v, new AtomicInteger());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                List<Conversation> order = new ArrayList<>(examples);
                Collections.shuffle(order, new Random(t));
                done.add(pool.submit(() -> order.forEach(c -> counts.get(dedup.offer(c)).incrementAndGet())));
            }
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdown();
        }
        assertEquals(1_000, counts.get(Verdict.NEW).get());
        assertEquals(3_000, counts.get(Verdict.EXACT).get());
        assertEquals(0, counts.get(Verdict.NEAR).get());
        assertEquals(1_000, dedup.size());
    }

    @Test
    void tenThousandHundredWordExamples() {
        Random random = new Random(3);
        List<Conversation> examples = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) examples.add(qa(randomWords(random, 15), randomWords(random, 85)));
        Deduplicator dedup = new Deduplicator(0.7, 1);
        Map<Verdict, Integer> counts = new EnumMap<>(Verdict.class);
        for (Conversation c : examples) counts.merge(dedup.offer(c), 1, Integer::sum);
        assertEquals(Map.of(Verdict.NEW, 10_000), counts);
        assertEquals(10_000, dedup.size());
        // what was kept is still found among 10,000
        assertEquals(Verdict.EXACT, dedup.offer(examples.get(4_321)));
        Conversation c = examples.get(9_999);
        String answer = c.messages().get(1).content().replaceFirst("w\\d+", "changed");
        assertEquals(Verdict.NEAR, dedup.offer(chat(c.messages().get(0), assistant(answer))));
    }
}
