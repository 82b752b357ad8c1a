package dev.jemma.core.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.jemma.core.JemmaException;
import dev.jemma.core.Printable;

import java.util.Map;

/**
 * The one class that touches Jinjava (an optional dependency): loaded only when {@link ChatTemplate#jinjaAvailable()}.
 * Configured like Hugging Face's {@code apply_chat_template}: trim_blocks, lstrip_blocks, {@code raise_exception}.
 */
final class JinjaRenderer {
    private final Jinjava jinjava;

    JinjaRenderer() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withFailOnUnknownTokens(false)
                // the template comes from the model file: bound what a hostile or broken one can produce
                .withMaxOutputSize(64L << 20)
                .withMaxRenderDepth(64)
                // FunctionGemma's template formats nested parameter schemas with a macro that calls itself
                .withEnableRecursiveMacroCalls(true)
                // {{- … -}} strips white space as in Python's Jinja2 (Hugging Face templates rely on it); Jinjava
                // otherwise keeps it for expressions
                .withLegacyOverrides(com.hubspot.jinjava.LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .withMaxMacroRecursionDepth(32)
                // an expression's output is text, as in Python's Jinja2: with nested interpretation on (Jinjava's
                // default) a message containing {{ … }} was rendered again as a template — a user could run template code
                .withNestedInterpretationEnabled(false)
                .build();
        jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    String render(String source, Map<String, Object> ctx) {
        RenderResult r;
        try {
            r = jinjava.renderForResult(source, ctx);
        } catch (ChatTemplate.TemplateException e) {
            throw refusal(e.getMessage());
        } catch (RuntimeException e) {
            Throwable c = e;
            while (c.getCause() != null && !(c instanceof ChatTemplate.TemplateException)) c = c.getCause();
            throw refusal(c.getMessage());
        }
        for (TemplateError err : r.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                String msg = err.getMessage();
                Throwable ex = err.getException();
                while (ex != null) {
                    if (ex instanceof ChatTemplate.TemplateException) {
                        msg = ex.getMessage();
                        break;
                    }
                    ex = ex.getCause();
                }
                throw refusal(msg);
            }
        }
        return r.getOutput();
    }

    /**
     * A refusal quoting the engine's message made printable: Jinjava quotes the template's source in its syntax errors,
     * and a model file's template is untrusted bytes (control characters, megabytes of text).
     */
    private static JemmaException refusal(String message) {
        return new JemmaException("chat template: " + Printable.of(String.valueOf(message), 300));
    }
}
