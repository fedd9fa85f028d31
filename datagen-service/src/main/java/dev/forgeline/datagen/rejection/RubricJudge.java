package dev.forgeline.datagen.rejection;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ChatTurn;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.datagen.teacher.Teacher;
import java.util.List;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A judge model scores the answer against a rubric (LLM-as-a-judge): it sees the rubric, the
 * conversation, the reference if any and the answer, at temperature 0, and is asked for
 * {@code Score: N} with N from 0 to {@code maxScore}. The score is N / maxScore. Replies are read
 * leniently ({@link #parse}); one that holds no score in range is not a score (empty), and counted.
 */
final class RubricJudge implements Scorer {
    private static final int MAX_TOKENS = 256;
    private static final String NUMBER = "(-?\\d+(?:\\.\\d+)?)";
    private static final Pattern LABELLED = Pattern.compile("(?i)\\bscore\\b\\s*(?:is|of)?\\s*[:=]?\\s*\\**\\s*" + NUMBER);
    private static final Pattern OUT_OF = Pattern.compile("(?i)" + NUMBER + "\\s*(?:/|out of)\\s*" + NUMBER);
    private static final Pattern BARE = Pattern.compile("\\s*\\**\\s*" + NUMBER + "\\s*\\**\\s*\\.?\\s*");

    private final Teacher judge;
    private final String rubric;
    private final double maxScore;

    RubricJudge(Teacher judge, String rubric, double maxScore) {
        this.judge = judge;
        this.rubric = rubric;
        this.maxScore = maxScore;
    }

    @Override
    public OptionalDouble score(SamplePrompt prompt, String answer) {
        String reply = judge.chat(messages(prompt, answer), 0.0, MAX_TOKENS, null, false).text();
        OptionalDouble raw = parse(reply == null ? "" : reply, maxScore);
        return raw.isPresent() ? OptionalDouble.of(raw.getAsDouble() / maxScore) : raw;
    }

    List<ChatTurn> messages(SamplePrompt prompt, String answer) {
        StringBuilder conversation = new StringBuilder();
        for (ChatTurn t : prompt.messages()) {
            conversation.append(t.role()).append(": ").append(t.content()).append('\n');
        }
        String scale = format(maxScore);
        String user = "Rubric:\n" + rubric + "\n\nConversation:\n" + conversation
                + (prompt.reference() == null ? "" : "\nReference answer:\n" + prompt.reference() + "\n")
                + "\nAnswer to grade:\n" + answer + "\n\nGrade the answer by the rubric. Reply with one line: Score: N, "
                + "where N is a number from 0 (worst) to " + scale + " (best).";
        return List.of(ChatTurn.system("You are a strict, fair grader. You reply with the score only."), ChatTurn.user(user));
    }

    /**
     * The score in a judge's reply, in [0, maxScore]: a JSON object's {@code score}; else
     * {@code Score: N} (also {@code score is N}, bold); else {@code N/M} or {@code N out of M}
     * (rescaled from M when M differs); else a reply that is only a number. Empty when none of these
     * is there or the number is out of range.
     */
    static OptionalDouble parse(String reply, double maxScore) {
        String text = reply.strip();
        Double value = null;
        if (text.startsWith("{")) {
            try {
                JsonNode node = ContractsJson.mapper().readTree(text);
                if (node.path("score").isNumber()) value = node.get("score").asDouble();
            } catch (java.io.IOException notJson) {
                // read it as text below
            }
        }
        if (value == null) {
            Matcher m = LABELLED.matcher(text);
            if (m.find()) value = Double.parseDouble(m.group(1));
        }
        if (value == null) {
            Matcher m = OUT_OF.matcher(text);
            if (m.find()) {
                double of = Double.parseDouble(m.group(2));
                if (of > 0) value = Double.parseDouble(m.group(1)) * maxScore / of;
            }
        }
        if (value == null) {
            Matcher m = BARE.matcher(text);
            if (m.matches()) value = Double.parseDouble(m.group(1));
        }
        if (value == null || value < 0 || value > maxScore || value.isNaN()) return OptionalDouble.empty();
        return OptionalDouble.of(value);
    }

    private static String format(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }
}
