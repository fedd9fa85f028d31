package dev.forgeline.datagen;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.datagen.generation.TeacherPrompts;
import dev.forgeline.datagen.teacher.ScriptedTeacherServer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * Teacher answers for the tests and the benchmark: the system prompt and topics calls get fixed
 * answers, example calls whatever {@code examples} gives for the n-th example call that is answered.
 * Example texts are made of seeded pseudo-words, so that two families share no shingles.
 */
final class ScriptedAnswers {
    static final String SYSTEM_PROMPT = "Given a question about an invented world, you will answer it in two sentences.";

    private ScriptedAnswers() {}

    /** Routes a request by the call it is; {@code examples} answers example (and question/answer) calls. */
    static ScriptedTeacherServer.Reply route(ScriptedTeacherServer.Request request,
            java.util.function.Function<ScriptedTeacherServer.Request, ScriptedTeacherServer.Reply> examples) {
        String last = request.lastUserMessage();
        if (last.startsWith(TeacherPrompts.SYSTEM_PROMPT_CALL)) {
            return ScriptedTeacherServer.Reply.ok(SYSTEM_PROMPT);
        }
        if (last.startsWith(TeacherPrompts.TOPICS_CALL)) {
            return ScriptedTeacherServer.Reply.ok("{\"topics\": [\"rivers\", \"cities\", \"weather\", \"food\", \"music\"]}");
        }
        return examples.apply(request);
    }

    /** Family {@code family}'s example as the teacher's JSON; {@code changedWord} >= 0 swaps that answer word (a near duplicate). */
    static String example(int family, int changedWord) {
        String user = "q" + family + " " + words(family * 7919L, 12);
        String[] answer = words(family * 104729L + 1, 40).split(" ");
        if (changedWord >= 0) {
            answer[changedWord] = "changed" + family;
        }
        return json(user, String.join(" ", answer));
    }

    static String json(String user, String assistant) {
        return ContractsJson.write(Map.of("messages", List.of(Map.of("role", "user", "content", user),
                Map.of("role", "assistant", "content", assistant))));
    }

    /** The family an example belongs to: its user message starts with "q{family} ". */
    static int family(String userMessage) {
        return Integer.parseInt(userMessage.substring(1, userMessage.indexOf(' ')));
    }

    /** An endless supply of distinct examples: the n-th answered example call gets family n. */
    static IntFunction<String> unique() {
        return n -> example(n, -1);
    }

    private static String words(long seed, int count) {
        SplittableRandom random = new SplittableRandom(seed);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < count; i++) {
            if (i > 0) b.append(' ');
            int length = 3 + random.nextInt(6);
            for (int c = 0; c < length; c++) {
                b.append((char) ('a' + random.nextInt(26)));
            }
        }
        return b.toString();
    }
}
