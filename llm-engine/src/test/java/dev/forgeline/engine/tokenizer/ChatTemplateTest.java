package dev.forgeline.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.forgeline.engine.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Templates written for these tests in the style of each model family (Java text blocks: a
 * {@code \\n} here is a backslash-n in the template source, as in tokenizer_config.json).
 * Expected strings follow Jinja2 semantics with transformers' settings (trim_blocks,
 * lstrip_blocks, no trailing newline); they were checked against Python Jinja2 3.1.
 */
class ChatTemplateTest {

    static final String LLAMA3_STYLE = """
            {{- bos_token }}
            {%- set loop_messages = messages %}
            {%- if messages[0]['role'] == 'system' %}
                {%- set system_message = messages[0]['content'] | trim %}
                {%- set loop_messages = messages[1:] %}
            {%- else %}
                {%- set system_message = "" %}
            {%- endif %}
            {#- the system turn is printed only when it has text -#}
            {%- if system_message %}
                {{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system_message + '<|eot_id|>' }}
            {%- endif %}
            {%- for message in loop_messages %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
            {%- endif %}
            """;

    static final String CHATML_STYLE = """
            {%- for message in messages %}
                {%- if loop.first and message['role'] != 'system' %}
                    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
                {%- endif %}
                {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|im_start|>assistant\\n' }}
            {%- endif %}
            """;

    static final String MISTRAL_STYLE = """
            {%- if messages[0]['role'] == 'system' %}
                {%- set system_message = messages[0]['content'] %}
                {%- set loop_messages = messages[1:] %}
            {%- else %}
                {%- set loop_messages = messages %}
            {%- endif %}

            {{- bos_token }}
            {%- for message in loop_messages %}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
                    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
                {%- endif %}
                {%- if message['role'] == 'user' %}
                    {%- if loop.first and system_message is defined %}
                        {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
                    {%- else %}
                        {{- ' [INST] ' + message['content'] + ' [/INST]' }}
                    {%- endif %}
                {%- elif message['role'] == 'assistant' %}
                    {{- ' ' + message['content'] + eos_token }}
                {%- else %}
                    {{- raise_exception('Only user and assistant roles are supported after an optional system message') }}
                {%- endif %}
            {%- endfor %}
            """;

    private static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system("  You are a helpful assistant.  \n"),
            ChatMessage.user("What is 2+2?"),
            ChatMessage.assistant("4"),
            ChatMessage.user("And 3+3? "));

    @Test
    void llama3Style() {
        ChatTemplate t = ChatTemplate.of(LLAMA3_STYLE, "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|>"
                + "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(CONVERSATION, true));
        // no system message, no generation prompt; the earlier render must not leak variables
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
                t.render(List.of(ChatMessage.user(" Hi")), false));
    }

    @Test
    void chatmlStyleAddsDefaultSystemPrompt() {
        ChatTemplate t = ChatTemplate.of(CHATML_STYLE, null, "<|im_end|>");
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(List.of(ChatMessage.user("Hello")), true));
        assertEquals("<|im_start|>system\nBe terse.<|im_end|>\n"
                + "<|im_start|>user\nHello<|im_end|>\n"
                + "<|im_start|>assistant\nHi.<|im_end|>\n",
                t.render(List.of(ChatMessage.system("Be terse."), ChatMessage.user("Hello"),
                        ChatMessage.assistant("Hi.")), false));
    }

    @Test
    void mistralStyle() {
        ChatTemplate t = ChatTemplate.of(MISTRAL_STYLE, "<s>", "</s>");
        assertEquals("<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST] Name a color. [/INST]",
                t.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"),
                        ChatMessage.assistant("Hello!"), ChatMessage.user("Name a color.")), true));
        assertEquals("<s> [INST] Hi [/INST]", t.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void mistralStyleRejectsRolesThatDoNotAlternate() {
        ChatTemplate t = ChatTemplate.of(MISTRAL_STYLE, "<s>", "</s>");
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
        // the failure does not stick to the thread
        assertEquals("<s> [INST] a [/INST]", t.render(List.of(ChatMessage.user("a")), true));
    }

    @Test
    void stories260kTemplate() {
        ChatTemplate t = ChatTemplate.fromModelDir(SharedData.model("stories260k"));
        assertEquals("<s>Once upon a time", t.render(List.of(ChatMessage.user("Once upon a time")), true));
        // trim_blocks (as in transformers) eats the newline right after {% if not loop.last %}
        assertEquals("<s>Lily wentto the park",
                t.render(List.of(ChatMessage.user("Lily went"), ChatMessage.assistant("to the park")), false));
    }

    @Test
    void pythonStringMethodsNamespaceAndSlicing() {
        String source = """
                {%- set ns = namespace(users=0, last='') %}
                {%- for m in messages %}
                    {%- if m.role.startswith('us') and not m.content.endswith(('?', '!')) %}
                        {%- set ns.users = ns.users + 1 %}
                    {%- endif %}
                    {%- set ns.last = m.content.strip().upper() %}
                {%- endfor %}
                {{- ns.users }}|{{ ns.last }}|{{ messages[0].content[:3] }}|{{ messages[-1]['role'] }}
                {{- '|' ~ ('T' if tools is defined else 'F') ~ '|' ~ messages[0].content.split(' ')|length }}
                {{- '|' + messages[0].content.lstrip('ab') + '|' + ' x '.rstrip() + '|' }}
                {{- 'a-b-c'.replace('-', '+') }}|{{ ', '.join(['p', 'q']) }}|{{ 'T' if loop is defined else 'F' }}
                """;
        ChatTemplate t = ChatTemplate.of(source, "", "");
        assertEquals("1|DONE|abc|assistant|F|3|c d e| x|a+b+c|p, q|F",
                t.render(List.of(ChatMessage.user("abc d e"), ChatMessage.user("why?"),
                        ChatMessage.assistant("  done ")), false));
    }

    @Test
    void toJsonUsesPythonSeparatorsAndToolsVariable() {
        ChatTemplate t = ChatTemplate.of("{{ tools | tojson }}|{{ tools[0] | tojson(indent=2) }}", "", "");
        Map<String, Object> tool = new java.util.LinkedHashMap<>();
        tool.put("name", "get_weather");
        tool.put("args", List.of("city", "unit"));
        tool.put("strict", true);
        assertEquals("[{\"name\": \"get_weather\", \"args\": [\"city\", \"unit\"], \"strict\": true}]|{\n"
                + "  \"name\": \"get_weather\",\n  \"args\": [\n    \"city\",\n    \"unit\"\n  ],\n"
                + "  \"strict\": true\n}",
                t.render(List.of(), false, Map.of("tools", List.of(tool))));
    }

    @Test
    void messageTextIsNeverTemplateCode() {
        ChatTemplate t = ChatTemplate.of(CHATML_STYLE, null, null);
        String rendered = t.render(List.of(ChatMessage.system("s"), ChatMessage.user("{{ 7*7 }} {% if true %}x{% endif %}")), false);
        assertEquals("<|im_start|>system\ns<|im_end|>\n<|im_start|>user\n{{ 7*7 }} {% if true %}x{% endif %}<|im_end|>\n",
                rendered);
    }

    @Test
    void whitespaceControlOnExpressionsAndComments() {
        assertEquals("ab", ChatTemplate.of("{{ 'a' -}}  \n  {#- note -#}\n\n {{- 'b' }}\n", "", "").render(List.of(), false));
        assertEquals("a  \n b", ChatTemplate.of("{{ 'a' }}  \n {{ 'b' }}", "", "").render(List.of(), false));
        // "-}}" inside a string literal is text, not whitespace control
        assertEquals("x-}} y", ChatTemplate.of("{{ 'x-}}' }} {{ 'y' }}", "", "").render(List.of(), false));
        // one trailing newline of the source is dropped, as in Jinja2; a block tag at the end keeps the text's
        assertEquals("a\n", ChatTemplate.of("{% if true %}\na\n{% endif %}\n", "", "").render(List.of(), false));
    }

    @Test
    void namedTemplatesAndMissingTemplate(@TempDir Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Files.writeString(dir.resolve("tokenizer_config.json"), json.writeValueAsString(Map.of(
                "bos_token", Map.of("__type", "AddedToken", "content", "<B>"),
                "eos_token", "<E>",
                "chat_template", List.of(
                        Map.of("name", "default", "template", "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"),
                        Map.of("name", "tool_use", "template", "tools:{{ messages|length }}")))));
        TokenizerConfig config = TokenizerConfig.load(dir);
        assertEquals("<B>hi<E>", ChatTemplate.fromModelDir(dir).render(List.of(ChatMessage.user("hi")), false));
        assertEquals("tools:1", ChatTemplate.fromTokenizerConfig(config, "tool_use")
                .render(List.of(ChatMessage.user("hi")), false));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.fromModelDir(dir));
        assertTrue(e.getMessage().contains("has no chat template"), e.getMessage());
    }

    @Test
    void malformedTemplateFailsClearly() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{{ m.content }}", "", "");
        assertThrows(ChatTemplateException.class, () -> t.render(List.of(ChatMessage.user("x")), false));
    }
}
