package dev.forgeline.datagen.cleaning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DeduplicatorTest {

    private static Conversation example(String user, String assistant) {
        return new Conversation(List.of(ChatTurn.user(user), ChatTurn.assistant(assistant)));
    }

    /** {@code count} pseudo-words from {@code seed}: two seeds share almost no shingles. */
    private static String words(long seed, int count) {
        SplittableRandom r = new SplittableRandom(seed);
        List<String> w = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            w.add("w" + r.nextInt(1_000_000));
        }
        return String.join(" ", w);
    }

    @Test
    void exactDuplicatesUpToCaseSpaceAndPunctuation() {
        Deduplicator d = new Deduplicator(0.8, 1);
        assertEquals(Deduplicator.Verdict.NEW, d.offer(example("How far is Mars?", "About 225 million km.")));
        assertEquals(Deduplicator.Verdict.EXACT, d.offer(example("how  far is MARS", "About 225 million km")));
        assertEquals(Deduplicator.Verdict.EXACT, d.offer(new Conversation(List.of(ChatTurn.system("other system prompt"),
                ChatTurn.user("How far is Mars?"), ChatTurn.assistant("About 225 million km.")))), "the system message does not count");
        assertEquals(Deduplicator.Verdict.NEW, d.offer(example("How far is Venus?", "About 225 million km.")));
    }

    @Test
    void nearDuplicatesAtTheThresholdOnly() {
        String[] answer = words(7, 40).split(" ");
        Deduplicator d = new Deduplicator(0.7, 1);
        assertEquals(Deduplicator.Verdict.NEW, d.offer(example("question seven", String.join(" ", answer))));
        answer[20] = "changed";
        assertEquals(Deduplicator.Verdict.NEAR, d.offer(example("question seven", String.join(" ", answer))), "one word changed");
        assertEquals(Deduplicator.Verdict.NEW, d.offer(example("question eight", words(8, 40))));

        // 45 of 60 words shared: 43 of 73 distinct shingles, Jaccard 0.59, a duplicate at 0.5 but not at 0.8.
        String first = words(9, 45) + " " + words(10, 15);
        String second = words(9, 45) + " " + words(11, 15);
        Deduplicator strict = new Deduplicator(0.8, 1);
        strict.offer(example("q", first));
        assertEquals(Deduplicator.Verdict.NEW, strict.offer(example("q", second)));
        Deduplicator loose = new Deduplicator(0.5, 1);
        loose.offer(example("q", first));
        assertEquals(Deduplicator.Verdict.NEAR, loose.offer(example("q", second)));
    }

    @Test
    void eachExampleIsKeptOnceAcrossThreads() throws Exception {
        List<Conversation> examples = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            examples.add(example("question " + i, words(i, 30)));
        }
        Deduplicator d = new Deduplicator(0.8, 3);
        AtomicInteger kept = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            done.add(pool.submit(() -> examples.forEach(e -> {
                if (d.offer(e) == Deduplicator.Verdict.NEW) kept.incrementAndGet();
            })));
        }
        for (Future<?> f : done) f.get();
        pool.shutdown();
        assertEquals(1_000, kept.get());
    }

    @Test
    void tenThousandExamplesOfAHundredWords() {
        Deduplicator d = new Deduplicator(0.8, 5);
        int kept = 0;
        for (int i = 0; i < 10_000; i++) {
            if (d.offer(example("question " + i, words(100_000L + i, 100))) == Deduplicator.Verdict.NEW) kept++;
        }
        assertTrue(kept >= 9_990, kept + " of 10,000 distinct examples kept");
    }
}
