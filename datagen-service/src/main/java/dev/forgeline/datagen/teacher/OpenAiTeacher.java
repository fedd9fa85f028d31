package dev.forgeline.datagen.teacher;

import dev.forgeline.contracts.ChatTurn;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiChatRequestParameters;
import dev.langchain4j.model.openai.internal.OpenAiClient;
import dev.langchain4j.model.openai.internal.OpenAiUtils;
import dev.langchain4j.model.openai.internal.chat.ChatCompletionChoice;
import dev.langchain4j.model.openai.internal.chat.ChatCompletionRequest;
import dev.langchain4j.model.openai.internal.chat.ChatCompletionResponse;
import dev.langchain4j.model.openai.internal.shared.Usage;
import dev.langchain4j.model.output.TokenUsage;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A teacher behind any OpenAI-compatible chat completions endpoint, through langchain4j's
 * {@link OpenAiChatModel} with no retries of its own ({@link RetryingTeacher} does them, with
 * Retry-After) and no request logging (a request holds the key). Failures become
 * {@link TeacherException}s that say whether to try again. {@link #sample} asks for {@code n}
 * choices in one request through langchain4j's {@link OpenAiClient}, since {@link OpenAiChatModel}
 * keeps only the first choice.
 */
public final class OpenAiTeacher implements Teacher {
    private final TeacherEndpoint endpoint;
    private final OpenAiChatModel model;
    private final OpenAiClient client;

    public OpenAiTeacher(TeacherEndpoint endpoint) {
        this.endpoint = endpoint;
        this.model = OpenAiChatModel.builder()
                .baseUrl(endpoint.baseUrl())
                .apiKey(endpoint.apiKey() == null ? "none" : endpoint.apiKey()) // local endpoints take any
                .modelName(endpoint.model())
                .timeout(endpoint.timeout())
                .maxRetries(0)
                .logRequests(false)
                .logResponses(false)
                .httpClientBuilder(new TeacherHttpClient.Builder())
                .build();
        this.client = OpenAiClient.builder()
                .baseUrl(endpoint.baseUrl())
                .apiKey(endpoint.apiKey() == null ? "none" : endpoint.apiKey())
                .connectTimeout(endpoint.timeout())
                .readTimeout(endpoint.timeout())
                .logRequests(false)
                .logResponses(false)
                .httpClientBuilder(new TeacherHttpClient.Builder())
                .build();
    }

    @Override
    public Samples sample(List<ChatTurn> messages, int n, double temperature, double topP, int maxTokens, Long seed) {
        ChatCompletionRequest.Builder request = ChatCompletionRequest.builder().model(endpoint.model())
                .messages(OpenAiUtils.toOpenAiMessages(convert(messages))).n(n).temperature(temperature).topP(topP)
                .maxTokens(maxTokens);
        if (seed != null) {
            request.seed((int) (seed ^ (seed >>> 32)));
        }
        ChatCompletionResponse response;
        try {
            response = client.chatCompletion(request.build()).execute();
        } catch (RuntimeException e) {
            throw failure(e);
        }
        List<String> texts = new ArrayList<>(n);
        List<ChatCompletionChoice> choices = response.choices() == null ? List.of() : response.choices();
        for (ChatCompletionChoice c : choices) {
            texts.add(c.message() == null || c.message().content() == null ? "" : c.message().content());
        }
        if (texts.size() != n) {
            throw new TeacherException("model " + endpoint + " answered " + texts.size() + " choices for n = " + n
                    + " (does the endpoint support n?)", 200, false, null, null);
        }
        Usage usage = response.usage();
        return new Samples(texts, usage == null || usage.promptTokens() == null ? 0 : usage.promptTokens(),
                usage == null || usage.completionTokens() == null ? 0 : usage.completionTokens());
    }

    @Override
    public TeacherReply chat(List<ChatTurn> messages, double temperature, int maxTokens, Long seed, boolean jsonObject) {
        OpenAiChatRequestParameters.Builder p = OpenAiChatRequestParameters.builder().temperature(temperature)
                .maxOutputTokens(maxTokens);
        if (seed != null) {
            p.seed((int) (seed ^ (seed >>> 32)));
        }
        if (jsonObject) {
            p.responseFormat(ResponseFormat.JSON);
        }
        ChatResponse response;
        try {
            response = model.chat(ChatRequest.builder().messages(convert(messages)).parameters(p.build()).build());
        } catch (RuntimeException e) {
            throw failure(e);
        }
        TokenUsage usage = response.tokenUsage();
        return new TeacherReply(response.aiMessage().text(),
                usage == null || usage.inputTokenCount() == null ? 0 : usage.inputTokenCount(),
                usage == null || usage.outputTokenCount() == null ? 0 : usage.outputTokenCount());
    }

    private static List<ChatMessage> convert(List<ChatTurn> turns) {
        List<ChatMessage> out = new ArrayList<>(turns.size());
        for (ChatTurn t : turns) {
            out.add(switch (t.role()) {
                case "system" -> SystemMessage.from(t.content());
                case "assistant" -> AiMessage.from(t.content());
                default -> UserMessage.from(t.content());
            });
        }
        return out;
    }

    /** What went wrong, from the causes langchain4j wraps around it. */
    private TeacherException failure(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TeacherHttpClient.StatusException s) {
                String body = s.getMessage() == null ? "" : s.getMessage().strip();
                return new TeacherException("teacher " + endpoint + " answered HTTP " + s.statusCode()
                        + (body.isEmpty() ? "" : ": " + body.substring(0, Math.min(300, body.length()))),
                        s.statusCode(), TeacherException.retryableStatus(s.statusCode()), s.retryAfter, e);
            }
            if (t instanceof HttpTimeoutException) {
                return new TeacherException("teacher " + endpoint + " did not answer within " + endpoint.timeout(), 0, true, null, e);
            }
            if (t instanceof IOException io) {
                return new TeacherException("cannot reach teacher " + endpoint + ": " + io, 0, true, null, e);
            }
        }
        return new TeacherException("teacher " + endpoint + " call failed: " + e, 0, false, null, e);
    }
}
