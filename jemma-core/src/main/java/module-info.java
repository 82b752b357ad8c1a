/**
 * Jemma's engine. Public API: {@code engine} (Engine, Session, options), {@code chat}, {@code sampling},
 * {@code tokenizer}, {@code constrain}, {@code store} and the package root (JemmaException, JemmaProperties). The
 * rest is exported only to Jemma's own modules (when they run as named modules).
 */
module dev.jemma.core {
    requires jdk.incubator.vector;
    requires java.desktop;
    requires java.management;
    requires com.twelvemonkeys.imageio.metadata;
    requires com.fasterxml.jackson.databind;
    requires static jinjava;

    exports dev.jemma.core;
    exports dev.jemma.core.engine;
    exports dev.jemma.core.embed;
    exports dev.jemma.core.chat;
    exports dev.jemma.core.sampling;
    exports dev.jemma.core.tokenizer;
    exports dev.jemma.core.constrain;
    exports dev.jemma.core.store;

    exports dev.jemma.core.model to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.langchain4j, dev.jemma.tools;
    exports dev.jemma.core.kv to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.tools;
    exports dev.jemma.core.memory to dev.jemma.cli, dev.jemma.server;
    exports dev.jemma.core.gguf to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.tools;
    exports dev.jemma.core.tensor to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.tools;
    exports dev.jemma.core.tensor.formats to dev.jemma.jmh;
    exports dev.jemma.core.tensor.kernels to dev.jemma.cli, dev.jemma.jmh;
    exports dev.jemma.core.repack to dev.jemma.cli;
    exports dev.jemma.core.vision to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.langchain4j, dev.jemma.tools;
    exports dev.jemma.core.media3n to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.langchain4j, dev.jemma.tools;
    exports dev.jemma.core.mobilenet to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.tools;
    exports dev.jemma.core.audio to dev.jemma.cli, dev.jemma.server, dev.jemma.jmh, dev.jemma.langchain4j, dev.jemma.tools;
}
