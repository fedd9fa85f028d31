package dev.forgeline.datagen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.DatagenRequest;
import dev.forgeline.contracts.DatagenRequest.Conversation;
import dev.forgeline.datagen.cleaning.ExampleCheck;
import dev.forgeline.datagen.generation.ExampleGeneration;
import dev.forgeline.datagen.generation.GenerationStats;
import dev.forgeline.datagen.teacher.OpenAiTeacher;
import dev.forgeline.datagen.teacher.RetryingTeacher;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import dev.forgeline.datagen.teacher.TeacherEndpoint;
import dev.forgeline.jobs.ArtifactStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ExampleGeneration} in process, against the scripted teacher over HTTP. */
class ExampleGenerationTest {

    private static ExampleGeneration generation(ScriptedTeacherServer teacher, DatagenRequest request, ArtifactStore store,
            BooleanSupplier cancelled, List<String> markers) {
        return new ExampleGeneration(new RetryingTeacher(new OpenAiTeacher(new TeacherEndpoint(teacher.baseUrl(), "scripted",
                null, Duration.ofSeconds(10))), 3, 1), request, ExampleCheck.defaults(), store, cancelled,
                new ExampleGeneration.Listener() {
                    @Override
                    public void progress(GenerationStats stats) {}

                    @Override
                    public void saved(String marker) {
                        markers.add(marker);
                    }
                });
    }

    private static DatagenRequest.Builder request(String jobId, ScriptedTeacherServer teacher) {
        return DatagenRequest.builder(jobId).task("Answer questions about an invented world.").maxConcurrency(3)
                .teacher(new DatagenRequest.Teacher(teacher.baseUrl(), "scripted", null));
    }

    @Test
    void stopsAtTheTokenBudgetWithWhatItMade(@TempDir Path dir) throws Exception {
        AtomicInteger family = new AtomicInteger();
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(r -> ScriptedAnswers.route(r,
                x -> Reply.ok(ScriptedAnswers.example(family.getAndIncrement(), -1))))) {
            DatagenRequest r = request("budget", teacher).numExamples(100).budgetTokens(3_000L).build();
            ExampleGeneration.Result result = generation(teacher, r, ArtifactStore.fromUri(dir.toString()), () -> false,
                    new ArrayList<>()).run(false);
            assertTrue(result.stats().stoppedAtBudget(), "stopped at the budget");
            assertTrue(result.stats().tokensUsed() >= 3_000, "tokens " + result.stats().tokensUsed());
            assertTrue(result.kept().size() > 0 && result.kept().size() < 100, result.kept().size() + " kept");
            assertEquals(result.kept().size(), result.stats().keptCount());
        }
    }

    /**
     * Cancelled after some examples, then run again as a restarted job would: it reads the saved
     * examples and counts back and makes only the missing ones, none twice.
     */
    @Test
    void aRestartGoesOnFromTheSavedExamples(@TempDir Path dir) throws Exception {
        AtomicInteger family = new AtomicInteger();
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(r -> ScriptedAnswers.route(r,
                x -> Reply.delay(Duration.ofMillis(20), Reply.ok(ScriptedAnswers.example(family.getAndIncrement(), -1)))))) {
            ArtifactStore store = ArtifactStore.fromUri(dir.toString());
            DatagenRequest r = request("restart", teacher).numExamples(60).build();
            AtomicBoolean cancel = new AtomicBoolean();
            List<String> markers = new ArrayList<>();
            ExampleGeneration first = new ExampleGeneration(new RetryingTeacher(new OpenAiTeacher(new TeacherEndpoint(
                    teacher.baseUrl(), "scripted", null, Duration.ofSeconds(10))), 3, 1), r, ExampleCheck.defaults(), store,
                    cancel::get, new ExampleGeneration.Listener() {
                        @Override
                        public void progress(GenerationStats stats) {
                            if (stats.keptCount() >= 25) cancel.set(true);
                        }

                        @Override
                        public void saved(String marker) {
                            markers.add(marker);
                        }
                    });
            assertThrows(CancellationException.class, () -> first.run(false));
            int answeredBefore = family.get();
            assertTrue(markers.size() >= 2, "the plan and at least one part were saved: " + markers);

            List<String> after = new ArrayList<>();
            ExampleGeneration.Result result = generation(teacher, r, store, () -> false, after).run(true);
            assertEquals(60, result.kept().size());
            Set<Integer> families = new HashSet<>();
            for (Conversation c : result.kept()) {
                assertTrue(families.add(ScriptedAnswers.family(c.messages().get(0).content())), "an example twice");
            }
            assertEquals(60, result.stats().keptCount(), "the counts went on from the saved ones");
            assertEquals(result.stats().returnedCount(), 60, "every answer was kept, before and after");
            assertTrue(family.get() - answeredBefore <= 60 - 25 + 3, "only the missing examples were asked for: "
                    + (family.get() - answeredBefore));
        }
    }

    /** A teacher with a small context (as stories260k's 512 tokens) is asked again without the earlier examples. */
    @Test
    void aContextTooSmallForTheEarlierExamplesGetsTheCallWithout(@TempDir Path dir) throws Exception {
        AtomicInteger family = new AtomicInteger();
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(r -> ScriptedAnswers.route(r,
                x -> x.lastUserMessage().contains("Examples written so far")
                        ? Reply.error(400, "This model's maximum context length is 512 tokens. However, you requested 600 tokens.")
                        : Reply.ok(ScriptedAnswers.example(family.getAndIncrement(), -1))))) {
            DatagenRequest r = request("small-context", teacher).numExamples(8).build();
            ExampleGeneration.Result result = generation(teacher, r, ArtifactStore.fromUri(dir.toString()), () -> false,
                    new ArrayList<>()).run(false);
            assertEquals(8, result.kept().size());
        }
    }

    @Test
    void aTeacherThatRefusesTheRequestFailsTheRunAtOnce(@TempDir Path dir) throws Exception {
        try (ScriptedTeacherServer teacher = ScriptedTeacherServer.start(r -> ScriptedAnswers.route(r,
                x -> Reply.status(401, Map.of())))) {
            DatagenRequest r = request("refused", teacher).numExamples(10).build();
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> generation(teacher, r, ArtifactStore.fromUri(dir.toString()), () -> false, new ArrayList<>()).run(false));
            assertTrue(e.getMessage().contains("refused") && e.getMessage().contains("401"), e.getMessage());
            assertTrue(teacher.calls() <= 2 + 3, "no retries of a 401: " + teacher.calls());
        }
    }
}
