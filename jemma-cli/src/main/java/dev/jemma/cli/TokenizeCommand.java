package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code jemma tokenize MODEL (--text T | --file F) [--no-bos] [--json]}. Reads only the vocabulary, so vocab-only
 * GGUFs work. Special-token text such as {@code <start_of_turn>} maps to its id (llama-tokenize's default).
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the token ids of a text.")
final class TokenizeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file (a vocab-only file is enough) or model name")
    String model;

    static final class Input {
        @Option(names = "--text", paramLabel = "T", required = true, description = "the text")
        String text;

        @Option(names = {"--file", "-f"}, paramLabel = "F", required = true, description = "read the text from a UTF-8 file")
        Path file;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--no-bos", description = "do not prepend BOS")
    boolean noBos;

    @Option(names = "--json", description = "print one JSON array of ids")
    boolean json;

    @Override
    public Integer call() throws IOException {
        String text = input.text != null ? input.text : readUtf8(input.file);
        Path path = ModelPaths.resolve(model);
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(path)) {
            tok = Tokenizer.fromGguf(f);
        }
        int[] ids = tok.encode(text, !noBos && tok.addsBos());
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        if (json) {
            StringJoiner j = new StringJoiner(", ", "[", "]");
            for (int id : ids) j.add(Integer.toString(id));
            out.println(j);
        } else {
            // llama-tokenize's layout: id -> 'piece'
            for (int id : ids) out.printf("%6d -> '%s'%n", id, tok.piece(id));
        }
        out.flush();
        return 0;
    }

    private static String readUtf8(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new JemmaException(file + (Files.isDirectory(file) ? ": is a directory, not a file" : ": no such file"));
        byte[] b = Files.readAllBytes(file);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new JemmaException(file + ": not valid UTF-8 text");
        }
    }
}
