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
    /** The longest a render may take: real chat templates render in milliseconds. */
    static final long RENDER_LIMIT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    /** When the render running on this thread must stop (System.nanoTime()), checked before every node. */
    private static final ThreadLocal<long[]> DEADLINE = ThreadLocal.withInitial(() -> new long[1]);

    private final Jinjava jinjava;
    private final long renderLimitNanos;

    JinjaRenderer() {
        this(RENDER_LIMIT_NANOS);
    }

    JinjaRenderer(long renderLimitNanos) {
        this.renderLimitNanos = renderLimitNanos;
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
                // Jinjava records a broken expression as an error and renders on, where Python's Jinja2 stops at the
                // first: a template with one inside nested loops over the messages ran for minutes (fuzzing found
                // one: 300 s). Stop at the first fatal error, and bound the time a render may take at all
                .withProcessors(com.hubspot.jinjava.el.JinjavaProcessors.newBuilder()
                        .withNodePreProcessor(JinjaRenderer::beforeNode).build())
                .build();
        jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    String render(String source, Map<String, Object> ctx) {
        RenderResult r;
        long[] deadline = DEADLINE.get();
        deadline[0] = System.nanoTime() + renderLimitNanos;
        try {
            r = jinjava.renderForResult(source, ctx);
        } catch (ChatTemplate.TemplateException e) {
            throw refusal(e.getMessage());
        } catch (RuntimeException e) {
            Throwable c = e;
            while (c.getCause() != null && !(c instanceof ChatTemplate.TemplateException)) c = c.getCause();
            throw refusal(c.getMessage());
        }
        for (TemplateError err : r.getErrors())
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) throw refusal(messageOf(err));
        return r.getOutput();
    }

    /** The template's own message ({@code raise_exception}) where there is one, else Jinjava's. */
    private static String messageOf(TemplateError err) {
        for (Throwable ex = err.getException(); ex != null; ex = ex.getCause())
            if (ex instanceof ChatTemplate.TemplateException) return ex.getMessage();
        return err.getMessage();
    }

    private static void beforeNode(com.hubspot.jinjava.tree.Node node, com.hubspot.jinjava.interpret.JinjavaInterpreter in) {
        var last = in.getLastError();
        if (last.isPresent() && last.get().getSeverity() == TemplateError.ErrorType.FATAL)
            throw new ChatTemplate.TemplateException(messageOf(last.get()));
        if (System.nanoTime() - DEADLINE.get()[0] > 0)
            throw new ChatTemplate.TemplateException("rendering took too long (a loop that does not end?)");
    }

    /**
     * A refusal quoting the engine's message made printable: Jinjava quotes the template's source in its syntax errors,
     * and a model file's template is untrusted bytes (control characters, megabytes of text).
     */
    private static JemmaException refusal(String message) {
        return new JemmaException("chat template: " + Printable.of(String.valueOf(message), 300));
    }
}
