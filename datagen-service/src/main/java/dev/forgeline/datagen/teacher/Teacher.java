package dev.forgeline.datagen.teacher;

import dev.forgeline.contracts.ChatTurn;
import java.util.List;

/** A teacher LLM behind a chat completions API. Implementations are thread-safe. */
public interface Teacher {
    /**
     * One chat completion.
     *
     * @param seed       where the endpoint supports one, or null
     * @param jsonObject ask for {@code response_format: json_object}
     * @throws TeacherException when the call fails
     */
    TeacherReply chat(List<ChatTurn> messages, double temperature, int maxTokens, Long seed, boolean jsonObject);
}
