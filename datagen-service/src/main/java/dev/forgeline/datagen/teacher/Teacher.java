package dev.forgeline.datagen.teacher;

import dev.forgeline.contracts.ChatTurn;
import java.util.List;

/**
 * A model behind a chat completions API: the teacher that writes examples, the policy that
 * rejection sampling samples, or the judge that scores. Implementations are thread-safe.
 */
public interface Teacher {
    /** The texts of {@code n} choices in the endpoint's order, and the tokens they cost. */
    record Samples(List<String> texts, long promptTokens, long completionTokens) {
        public Samples {
            texts = List.copyOf(texts);
        }
    }

    /**
     * One chat completion.
     *
     * @param seed       where the endpoint supports one, or null
     * @param jsonObject ask for {@code response_format: json_object}
     * @throws TeacherException when the call fails
     */
    TeacherReply chat(List<ChatTurn> messages, double temperature, int maxTokens, Long seed, boolean jsonObject);

    /**
     * {@code n} answers to one conversation in one request ({@code n} in OpenAI's API, which the
     * gateway batches).
     *
     * @param seed where the endpoint supports one, or null
     * @throws TeacherException when the call fails or does not answer {@code n} choices
     */
    Samples sample(List<ChatTurn> messages, int n, double temperature, double topP, int maxTokens, Long seed);
}
