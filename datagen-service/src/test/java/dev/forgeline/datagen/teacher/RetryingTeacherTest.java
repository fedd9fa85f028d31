package dev.forgeline.datagen.teacher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link RetryingTeacher} over {@link OpenAiTeacher} over the scripted server, with a sleeper that records. */
class RetryingTeacherTest {
    private static final List<ChatTurn> ASK = List.of(ChatTurn.user("Name a planet."));

    private static OpenAiTeacher inner(ScriptedTeacherServer server) {
        return new OpenAiTeacher(new TeacherEndpoint(server.baseUrl(), "m", null, Duration.ofSeconds(5)));
    }

    @Test
    void waitsRetryAfterThenBacksOffWithJitter() throws Exception {
        List<Reply> replies = List.of(Reply.status(429, Map.of("Retry-After", "1")), Reply.status(500, Map.of()), Reply.ok("Mars"));
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(r -> replies.get(r.index()))) {
            List<Duration> waits = new ArrayList<>();
            RetryingTeacher teacher = new RetryingTeacher(inner(server), 6, 1, waits::add);
            assertEquals("Mars", teacher.chat(ASK, 0, 8, null, false).text());
            assertEquals(3, teacher.attempts());
            assertEquals(2, waits.size());
            assertEquals(Duration.ofSeconds(1), waits.get(0), "the server's Retry-After");
            assertTrue(waits.get(1).toMillis() >= 0 && waits.get(1).toMillis() <= 1000, "jitter within 0.5 s * 2^1: " + waits.get(1));
        }
    }

    @Test
    void doesNotRetryABadRequestAndGivesUpAfterMaxAttempts() throws Exception {
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(r -> Reply.status(r.index() == 0 ? 400 : 503, Map.of()))) {
            List<Duration> waits = new ArrayList<>();
            RetryingTeacher teacher = new RetryingTeacher(inner(server), 4, 1, waits::add);
            TeacherException bad = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(400, bad.status());
            assertEquals(1, teacher.attempts());
            assertEquals(List.of(), waits);

            TeacherException down = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(503, down.status());
            assertTrue(down.getMessage().contains("after 4 attempts"), down.getMessage());
            assertEquals(5, teacher.attempts());
            assertEquals(3, waits.size());
            for (int k = 0; k < 3; k++) {
                assertTrue(waits.get(k).toMillis() <= 500L << k, "backoff " + k + ": " + waits.get(k));
            }
        }
    }

    @Test
    void anInterruptedWaitStopsRetrying() throws Exception {
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(r -> Reply.status(503, Map.of()))) {
            RetryingTeacher teacher = new RetryingTeacher(inner(server), 6, 1, d -> {
                throw new InterruptedException();
            });
            TeacherException e = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertTrue(Thread.interrupted(), "the interrupt is kept");
            assertEquals(1, teacher.attempts());
            assertTrue(!e.retryable());
        }
    }
}
