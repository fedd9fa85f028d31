package dev.forgeline.datagen.teacher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer.Reply;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link OpenAiTeacher} over real HTTP against the scripted server: what it sends, and what each failure becomes. */
class OpenAiTeacherTest {
    private static final List<ChatTurn> ASK = List.of(ChatTurn.system("Be brief."), ChatTurn.user("Name a planet."));
    private static final String KEY = "sk-test-secret-0123456789";

    private static OpenAiTeacher teacher(ScriptedTeacherServer server, Duration timeout) {
        return new OpenAiTeacher(new TeacherEndpoint(server.baseUrl(), "teacher-model", KEY, timeout));
    }

    @Test
    void sendsTheRequestAndReadsTextAndUsage() throws Exception {
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(r -> Reply.ok("Mars is red"))) {
            TeacherReply reply = teacher(server, Duration.ofSeconds(10)).chat(ASK, 0.3, 64, 7L, true);
            assertEquals("Mars is red", reply.text());
            assertEquals(5, reply.promptTokens(), "words of the two messages, as the server counts");
            assertEquals(3, reply.completionTokens());
            ScriptedTeacherServer.Request sent = server.requests().get(0);
            assertEquals("teacher-model", sent.model());
            assertEquals(ASK, sent.messages());
            assertEquals(0.3, sent.temperature());
            assertTrue(sent.jsonObject(), "response_format json_object");
            assertEquals(7L, sent.seed());
            teacher(server, Duration.ofSeconds(10)).chat(ASK, 0.3, 64, null, false);
            assertFalse(server.requests().get(1).jsonObject());
        }
    }

    @Test
    void failuresSayWhetherToRetry() throws Exception {
        List<Reply> replies = new ArrayList<>(List.of(Reply.status(401, Map.of()), Reply.status(429, Map.of("Retry-After", "2")),
                Reply.status(500, Map.of()), Reply.delay(Duration.ofSeconds(3), Reply.ok("late")), Reply.status(400, Map.of())));
        try (ScriptedTeacherServer server = ScriptedTeacherServer.start(r -> replies.get(r.index()))) {
            OpenAiTeacher teacher = teacher(server, Duration.ofMillis(800));
            TeacherException unauthorized = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(401, unauthorized.status());
            assertFalse(unauthorized.retryable());
            assertFalse(unauthorized.getMessage().contains(KEY), unauthorized.getMessage());
            assertTrue(unauthorized.getMessage().contains(server.baseUrl()), unauthorized.getMessage());

            TeacherException limited = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(429, limited.status());
            assertTrue(limited.retryable());
            assertEquals(Duration.ofSeconds(2), limited.retryAfter().orElseThrow());

            TeacherException error = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(500, error.status());
            assertTrue(error.retryable());
            assertTrue(error.retryAfter().isEmpty());

            TeacherException slow = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertEquals(0, slow.status());
            assertTrue(slow.retryable(), slow.getMessage());

            TeacherException bad = assertThrows(TeacherException.class, () -> teacher.chat(ASK, 0, 8, null, false));
            assertFalse(bad.retryable());
        }
    }

    @Test
    void aRefusedConnectionIsRetryable() {
        TeacherException e = assertThrows(TeacherException.class, () -> new OpenAiTeacher(
                new TeacherEndpoint("http://127.0.0.1:1/v1", "m", null, Duration.ofSeconds(2))).chat(ASK, 0, 8, null, false));
        assertEquals(0, e.status());
        assertTrue(e.retryable());
    }

    @Test
    void retryAfterAsSecondsOrADate() {
        assertEquals(Duration.ofSeconds(3), TeacherHttpClient.retryAfter(" 3 "));
        Duration d = TeacherHttpClient.retryAfter(java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME
                .format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(30)));
        assertTrue(d.getSeconds() >= 28 && d.getSeconds() <= 30, d.toString());
        assertEquals(null, TeacherHttpClient.retryAfter("soon"));
    }
}
