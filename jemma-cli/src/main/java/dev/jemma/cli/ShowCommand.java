package dev.jemma.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.ModelSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/**
 * Prints what a model file is and what loading it will cost, without loading it. Any valid GGUF file is described;
 * one of an architecture Jemma cannot run gets the generic facts and a "not supported" line, exit 0.
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, sizes, tensor-type mix, layer pattern and memory plan.")
final class ShowCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name")
    String model;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "context length for the memory plan (default: the model's, at most 8192)")
    int contextLength;

    @Option(names = "--matformer", paramLabel = "SPEC", description = "Gemma 3n: plan memory for this MatFormer slice (e2b, or ffn=…;skip=…)")
    String matformer;

    @Override
    public Integer call() throws JsonProcessingException {
        if (contextLength < 0) throw new JemmaException("-c " + contextLength + ": must be positive");
        try (GgufFile f = GgufFile.open(ModelPaths.resolve(model))) {
            ModelSummary s = ModelSummary.of(f, contextLength, 64, matformer);
            if (json) {
                var m = new java.util.LinkedHashMap<String, Object>(s.toMap());
                // what this machine would run the model with (not a property of the file)
                m.put("vector_bits", dev.jemma.core.tensor.kernels.VectorWidth.BITS);
                m.put("kernels", dev.jemma.core.tensor.kernels.VectorWidth.describe());
                System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m));
            } else {
                System.out.print(s.toText());
                System.out.printf("kernels on this machine: %s%n", dev.jemma.core.tensor.kernels.VectorWidth.describe());
            }
        }
        return 0;
    }
}
