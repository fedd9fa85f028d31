package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.forgeline.engine.generate.Generation;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK against the running gateway serving stories260k. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class OpenAiSdkTest {

    static final String PROMPT = "Once upon a time";

    OpenAIClient client;
    EngineReference engine = EngineReference.get();

    @BeforeEach
    void client() {
        client = OpenAIOkHttpClient.builder().baseUrl(GatewayTestSupport.v1()).apiKey(GatewayTestSupport.KEY)
                .maxRetries(0).build();
    }

    private ChatCompletionCreateParams.Builder chat(int maxTokens) {
        return ChatCompletionCreateParams.builder().model(MODEL).addUserMessage(PROMPT).maxCompletionTokens(maxTokens);
    }

    @Test
    void modelsListTheBaseModel() {
        List<Model> models = client.models().list().data();
        assertTrue(models.stream().anyMatch(m -> m.id().equals(MODEL)), models.toString());
        assertEquals(MODEL, client.models().retrieve(MODEL).id());
    }

    @Test
    void greedyChatEqualsTheEngineAndUsageEqualsTokenizerCounts() {
        int[] prompt = engine.chatPrompt(PROMPT);
        Generation expected = engine.greedy(prompt, 40);
        ChatCompletion c = client.chat().completions().create(chat(40).temperature(0.0).build());
        assertEquals(expected.text(), c.choices().get(0).message().content().orElseThrow());
        assertEquals(expected.finishReason().openAiName(), c.choices().get(0).finishReason().asString());
        assertEquals(prompt.length, c.usage().orElseThrow().promptTokens());
        assertEquals(expected.tokens().length, c.usage().orElseThrow().completionTokens());
        assertEquals(prompt.length + expected.tokens().length, c.usage().orElseThrow().totalTokens());
        assertEquals(MODEL, c.model());
        assertTrue(c.id().startsWith("chatcmpl-"));
    }

    @Test
    void streamedChatEqualsTheEngineAndEndsWithUsage() {
        int[] prompt = engine.chatPrompt(PROMPT);
        Generation expected = engine.greedy(prompt, 40);
        StringBuilder text = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat(40)
                .temperature(0.0).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(ch -> {
                chunks.add(ch);
                ch.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
            });
        }
        assertEquals(expected.text(), text.toString());
        assertEquals("assistant", chunks.get(0).choices().get(0).delta().role().orElseThrow().asString());
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertTrue(last.choices().isEmpty(), "the usage chunk has no choices");
        assertEquals(prompt.length, last.usage().orElseThrow().promptTokens());
        assertEquals(expected.tokens().length, last.usage().orElseThrow().completionTokens());
        ChatCompletionChunk finish = chunks.get(chunks.size() - 2);
        assertEquals("length", finish.choices().get(0).finishReason().orElseThrow().asString());
    }

    @Test
    void seedReproducesSampledOutput() {
        ChatCompletionCreateParams seeded = chat(30).temperature(1.0).seed(1234L).build();
        String a = client.chat().completions().create(seeded).choices().get(0).message().content().orElseThrow();
        String b = client.chat().completions().create(seeded).choices().get(0).message().content().orElseThrow();
        assertEquals(a, b);
        String other = client.chat().completions().create(chat(30).temperature(1.0).seed(99L).build())
                .choices().get(0).message().content().orElseThrow();
        assertNotEquals(a, other, "another seed samples another text");
    }

    @Test
    void nChoicesStopAndLogprobs() {
        ChatCompletion c = client.chat().completions().create(chat(20).temperature(0.0).n(2).logprobs(true)
                .topLogprobs(3).build());
        assertEquals(2, c.choices().size());
        assertEquals(c.choices().get(0).message().content(), c.choices().get(1).message().content());
        var logprobs = c.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertEquals(20, logprobs.size());
        assertEquals(3, logprobs.get(0).topLogprobs().size());
        // greedy: each chosen token is the most likely one
        assertEquals(logprobs.get(0).topLogprobs().get(0).token(), logprobs.get(0).token());

        String full = engine.greedy(engine.chatPrompt(PROMPT), 40).text();
        String stop = full.substring(10, 14);
        ChatCompletion stopped = client.chat().completions().create(chat(40).temperature(0.0).stop(stop).build());
        assertEquals(full.substring(0, full.indexOf(stop)), stopped.choices().get(0).message().content().orElseThrow());
        assertEquals("stop", stopped.choices().get(0).finishReason().asString());
    }

    /** Streamed chunks carry the same per-token logprobs as the response that is not streamed, bit for bit. */
    @Test
    void streamedLogprobsEqualTheResponseLogprobs() {
        ChatCompletionCreateParams params = chat(40).temperature(0.0).logprobs(true).topLogprobs(5).build();
        ChatCompletion whole = client.chat().completions().create(params);
        var expected = whole.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertEquals(whole.usage().orElseThrow().completionTokens(), expected.size(), "one entry per generated token");

        List<ChatCompletionTokenLogprob> streamed = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().flatMap(ch -> ch.choices().stream()).forEach(choice -> {
                choice.delta().content().ifPresent(text::append);
                choice.logprobs().flatMap(l -> l.content()).ifPresent(streamed::addAll);
            });
        }
        assertEquals(whole.choices().get(0).message().content().orElseThrow(), text.toString());
        assertEquals(expected.size(), streamed.size());
        for (int i = 0; i < expected.size(); i++) {
            ChatCompletionTokenLogprob e = expected.get(i), g = streamed.get(i);
            assertEquals(e.token(), g.token(), "token " + i);
            assertEquals(e.logprob(), g.logprob(), 0.0, "logprob of token " + i);
            assertEquals(5, g.topLogprobs().size());
            for (int j = 0; j < 5; j++) {
                assertEquals(e.topLogprobs().get(j).token(), g.topLogprobs().get(j).token());
                assertEquals(e.topLogprobs().get(j).logprob(), g.topLogprobs().get(j).logprob(), 0.0);
            }
        }
    }

    @Test
    void completionsMatchRunCReference() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(engine.dir.resolve("reference.json").toFile()).get("prompts").get(0);
        Completion c = client.completions().create(CompletionCreateParams.builder().model(MODEL)
                .prompt(ref.get("prompt").asText()).maxTokens(100).temperature(0.0).build());
        assertEquals(ref.get("greedy_text").asText(), c.choices().get(0).text());
        assertEquals(ref.get("input_ids").size(), c.usage().orElseThrow().promptTokens());
        assertEquals(100, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void completionsEchoLogprobsAndTokenPrompts() throws Exception {
        Completion c = client.completions().create(CompletionCreateParams.builder().model(MODEL).prompt(PROMPT)
                .maxTokens(5).temperature(0.0).echo(true).logprobs(2).build());
        String text = c.choices().get(0).text();
        assertTrue(text.startsWith(PROMPT), text);
        var lp = c.choices().get(0).logprobs().orElseThrow();
        int promptTokens = engine.tokenizer.encode(PROMPT, true).length;
        assertEquals(promptTokens + 5, lp.tokens().orElseThrow().size());
        assertEquals(promptTokens + 5, lp.tokenLogprobs().orElseThrow().size());

        // token ids and a list of prompts, raw JSON: each prompt gets its own choice
        int[] ids = engine.tokenizer.encode(PROMPT, true);
        String body = "{\"model\":\"" + MODEL + "\",\"prompt\":[" + Arrays.toString(ids) + ",\"" + PROMPT
                + "\"],\"max_tokens\":8,\"temperature\":0}";
        var r = GatewayTestSupport.HTTP.send(GatewayTestSupport.post("/completions", body),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode json = new ObjectMapper().readTree(r.body());
        assertEquals(2, json.get("choices").size());
        assertEquals(json.get("choices").get(0).get("text"), json.get("choices").get(1).get("text"));
        assertEquals(2 * ids.length, json.get("usage").get("prompt_tokens").asInt());
        assertFalse(json.get("choices").get(0).get("text").asText().isEmpty());
    }
}
