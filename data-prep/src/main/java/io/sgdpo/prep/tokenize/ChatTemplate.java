package io.sgdpo.prep.tokenize;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template: the Jinja template of {@code tokenizer_config.json}'s
 * {@code chat_template}, rendered the way transformers' {@code apply_chat_template} does (the
 * variables {@code messages}, {@code add_generation_prompt}, the special-token strings, and a
 * {@code raise_exception} function). Rendering goes through Jinjava, a maintained Jinja engine for
 * the JVM, rather than a hand-written one: templates use loops, conditions, filters and string
 * concatenation freely.
 */
public final class ChatTemplate implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One engine per JVM; rendering creates its own context, so threads can share it. */
    private static volatile Jinjava engine;

    private final String template;
    private final String source;
    private final Map<String, String> specialTokens;

    /**
     * @param template      the Jinja source
     * @param source        where it came from, for error messages (a file path)
     * @param specialTokens bos_token, eos_token, unk_token, pad_token strings that exist
     */
    public ChatTemplate(String template, String source, Map<String, String> specialTokens) {
        this.template = template;
        this.source = source;
        this.specialTokens = Map.copyOf(specialTokens);
    }

    /** A chat message: its role (user, assistant, system, ...) and content. */
    public record Message(String role, String content) implements Serializable {
    }

    /** The template's text for {@code messages}. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> list = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", list);
        context.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = engine().renderForResult(template, context);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            TemplateError e = fatal.get(0);
            throw new IllegalArgumentException("chat_template of " + source + " cannot be rendered"
                    + (e.getLineno() > 0 ? " (template line " + e.getLineno() + ")" : "") + ": " + e.getMessage()
                    + rootCause(e.getException()));
        }
        return result.getOutput();
    }

    /** The innermost message of what the template's code threw (raise_exception's text), if any. */
    private static String rootCause(Throwable t) {
        if (t == null) {
            return "";
        }
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? "" : ": " + t.getMessage();
    }

    /** Checks that the template renders a simple conversation, so a broken one fails before any work. */
    public void check() {
        render(List.of(new Message("user", "hello"), new Message("assistant", "hi")), false);
        render(List.of(new Message("user", "hello")), true);
    }

    /** The identity of the template text, for fingerprints. */
    public String identity() {
        return TokenizerSpec.sha256(template);
    }

    private static Jinjava engine() {
        Jinjava e = engine;
        if (e == null) {
            synchronized (ChatTemplate.class) {
                e = engine;
                if (e == null) {
                    e = new Jinjava(JinjavaConfig.newBuilder().withFailOnUnknownTokens(false).build());
                    e.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                            ChatTemplate.class, "raiseException", String.class));
                    engine = e;
                }
            }
        }
        return e;
    }

    /** The {@code raise_exception(message)} that chat templates call on a conversation they refuse. */
    public static String raiseException(String message) {
        throw new IllegalArgumentException("the chat template refused the conversation: " + message);
    }
}
