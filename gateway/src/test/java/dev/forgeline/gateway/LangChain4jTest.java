package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.forgeline.engine.generate.Generation;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** langchain4j's OpenAI chat models against the running gateway. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class LangChain4jTest {

    static final String PROMPT = "Lily and Ben went to the park";

    @Test
    void chatModelGetsTheEnginesGreedyText() {
        EngineReference engine = EngineReference.get();
        int[] prompt = engine.chatPrompt(PROMPT);
        Generation expected = engine.greedy(prompt, 30);
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(GatewayTestSupport.v1())
                .apiKey(GatewayTestSupport.KEY).modelName(MODEL).temperature(0.0).maxTokens(30).maxRetries(0).build();
        ChatResponse r = model.chat(dev.langchain4j.data.message.UserMessage.from(PROMPT));
        assertEquals(expected.text(), r.aiMessage().text());
        assertEquals(prompt.length, r.tokenUsage().inputTokenCount());
        assertEquals(expected.tokens().length, r.tokenUsage().outputTokenCount());
    }

    @Test
    void streamingChatModelGetsTheSameText() throws Exception {
        EngineReference engine = EngineReference.get();
        int[] prompt = engine.chatPrompt(PROMPT);
        Generation expected = engine.greedy(prompt, 30);
        OpenAiStreamingChatModel model = OpenAiStreamingChatModel.builder().baseUrl(GatewayTestSupport.v1())
                .apiKey(GatewayTestSupport.KEY).modelName(MODEL).temperature(0.0).maxTokens(30).build();
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(PROMPT, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) {
                partial.append(text);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertEquals(expected.text(), partial.toString());
        assertEquals(expected.text(), r.aiMessage().text());
        assertEquals(prompt.length, r.tokenUsage().inputTokenCount());
        assertEquals(expected.tokens().length, r.tokenUsage().outputTokenCount());
    }
}
