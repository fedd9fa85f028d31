package dev.forgeline.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import jinjava.javax.el.CompositeELResolver;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A model's chat template: the Jinja2 program in {@code tokenizer_config.json} that turns a
 * conversation into the exact prompt text the model was trained on.
 *
 * <p>Rendered with jinjava, set up like transformers' sandbox ({@code trim_blocks},
 * {@code lstrip_blocks}, no trailing newline), with the globals transformers provides
 * ({@code raise_exception}, {@code strftime_now}, Python-style {@code tojson}) and Python
 * {@code str} methods. Whitespace control on expression tags is applied by {@link JinjaSource}.
 * Message text is never interpreted as template code.
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {

    private static final Jinjava JINJAVA = newJinjava();

    private final String source;
    private final String jinjavaSource;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = Objects.requireNonNull(source, "source");
        this.jinjavaSource = JinjaSource.toJinjava(source);
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
    }

    /** A template from its source text and the special tokens it may print. */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        return new ChatTemplate(source, bosToken, eosToken);
    }

    /** The default chat template of a model folder. */
    public static ChatTemplate fromModelDir(Path modelDir) {
        TokenizerConfig config = TokenizerConfig.load(modelDir);
        if (config.chatTemplate().isEmpty()) {
            throw new ChatTemplateException("model at " + modelDir + " has no chat template (no chat_template"
                    + " in tokenizer_config.json, no chat_template.jinja): it is a base model; use a plain"
                    + " completion prompt or supply a template");
        }
        return fromTokenizerConfig(config);
    }

    /** The default chat template of a tokenizer configuration. */
    public static ChatTemplate fromTokenizerConfig(TokenizerConfig config) {
        String template = config.chatTemplate().orElseThrow(() -> new ChatTemplateException(
                "the tokenizer configuration has no chat template"
                        + (config.chatTemplates().isEmpty() ? "" : " named 'default' (it has "
                        + config.chatTemplates().keySet() + ")")));
        return new ChatTemplate(template, config.bosToken(), config.eosToken());
    }

    /** A named template of a tokenizer configuration (for example "tool_use"). */
    public static ChatTemplate fromTokenizerConfig(TokenizerConfig config, String name) {
        String template = config.chatTemplates().get(name);
        if (template == null) {
            throw new ChatTemplateException("no chat template named '" + name + "'; the model has "
                    + config.chatTemplates().keySet());
        }
        return new ChatTemplate(template, config.bosToken(), config.eosToken());
    }

    /**
     * Renders a conversation. With {@code addGenerationPrompt} the text ends with the header of
     * an assistant turn, ready for generation.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> plain = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            plain.add(map);
        }
        return render(plain, addGenerationPrompt, Map.of());
    }

    /**
     * Renders messages given as maps (which may carry more keys than role and content, such as
     * {@code tool_calls}), with extra template variables (such as {@code tools}).
     */
    public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
                         Map<String, ?> variables) {
        Map<String, Object> context = new HashMap<>(variables);
        List<Map<String, Object>> copies = new ArrayList<>();
        for (Map<String, ?> m : messages) {
            copies.add(new LinkedHashMap<>(m));
        }
        context.put("messages", copies);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);

        TemplateFunctions.RAISED.remove();
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(jinjavaSource, context);
        } catch (ChatTemplateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ChatTemplateException("chat template failed: " + e.getMessage());
        } finally {
            String raised = TemplateFunctions.RAISED.get();
            TemplateFunctions.RAISED.remove();
            if (raised != null) {
                throw new ChatTemplateException("chat template rejected the conversation: " + raised);
            }
        }
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .toList();
        if (!fatal.isEmpty()) {
            throw new ChatTemplateException("chat template failed: " + fatal.stream()
                    .map(e -> "line " + e.getLineno() + ": " + e.getMessage())
                    .collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The template's Jinja2 source, as the model folder has it. */
    public String source() {
        return source;
    }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withKeepTrailingNewline(true) // JinjaSource drops the source's trailing newline
                .withNestedInterpretationEnabled(false) // "{{" inside message text stays text
                .withElResolver(resolver)
                .build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", TemplateFunctions.class, "raiseException", Object.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "strftime_now", TemplateFunctions.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFilter(new PythonJson());
        return jinjava;
    }
}
