package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.ModelLoader;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The heap the launcher gives serve/run/chat comes from the memory plan (issue 22, finding 4). */
class HeapCommandTest {
    static final String TINY = RunCommandTest.TINY;

    static MemoryPlan plan(int ctx) {
        try (GgufFile f = GgufFile.open(Path.of(TINY))) {
            return ModelLoader.plan(f, ModelLoader.readConfig(f), ctx, dev.jemma.core.engine.EngineOptions.defaults().maxBatch());
        }
    }

    @Test
    void runAndServeHeapsFollowThePlan() {
        MemoryPlan p = plan(2048);
        long run = HeapCommand.heapFor("run", TINY, "hello", "-c", "2048");
        assertThat(run).isGreaterThanOrEqualTo(p.heapNeeded() + HeapCommand.BASE_MIB * HeapCommand.MIB);
        assertThat(run).isLessThan(p.heapNeeded() + (HeapCommand.BASE_MIB + 64) * HeapCommand.MIB);
        assertThat(run % (64 * HeapCommand.MIB)).isZero();
        // a larger context needs a larger heap; the server's KV pool is -c split among its --parallel slots, and it admits requests
        assertThat(HeapCommand.heapFor("run", TINY, "hello", "-c", "8192")).isGreaterThanOrEqualTo(run);
        long serve = HeapCommand.heapFor("serve", "-m", TINY, "-c", "6144", "--parallel", "3", "--queue", "4");
        assertThat(serve).isGreaterThanOrEqualTo(p.kvBytes() * 3 + p.scratchBytes() + p.headroomBytes() + 7L * 3 * (8L << 20));
        assertThat(serve).isLessThan(p.kvBytes() * 3 + p.scratchBytes() + p.headroomBytes() + 7L * 3 * (8L << 20)
                + (HeapCommand.BASE_MIB + 64) * HeapCommand.MIB);
        assertThat(HeapCommand.heapFor("chat", TINY, "-c", "2048")).isEqualTo(run);
        // nothing to size: no output, the command reports its own problems
        assertThat(HeapCommand.heapFor("run", "/no/such.gguf", "hi")).isZero();
        assertThat(HeapCommand.heapFor("list")).isZero();
        var r = CliTestSupport.run(null, "heap", "run", TINY, "hi", "-c", "2048");
        assertThat(r.out().strip()).isEqualTo("-Xmx" + run / HeapCommand.MIB + "m");
        assertThat(CliTestSupport.run(null, "heap", "run", "/no/such.gguf", "hi").out()).isEmpty();
    }

    /**
     * Where the command will be given images and the model has a vision tower, the heap holds an image's encoding too,
     * as the engine's plan does (else the engine refuses the launcher's heap: E2B's MobileNet-V5 plans 392 MB, more than
     * the 256 MiB base). Mutation caught: modelHeap ignoring {@code images} (the heaps are equal).
     */
    @Test
    void commandsGivenImagesHoldAnImagesEncoding() throws Exception {
        Path dir = dev.jemma.core.testing.MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        Path model = dir.resolve("gemma3n-mm-tiny-F16.gguf");
        long scratch;
        try (var t = new dev.jemma.core.tensor.ThreadPool(1); GgufFile f = GgufFile.open(model);
             var enc = VisionModel.encoder(f, model, null, new ModelLoader.Options(true, 1, 64), t)) {
            scratch = enc.scratchBytes();
        }
        assertThat(scratch).isPositive();
        int batch = dev.jemma.core.engine.EngineOptions.defaults().modelBatch();
        assertThat(HeapCommand.modelHeap(model, 2048, 1, batch, true, null) - HeapCommand.modelHeap(model, 2048, 1, batch, false, null))
                .isEqualTo(scratch);
        String image = dir.resolve("media/square-224x224.png").toString();
        long text = HeapCommand.heapFor("run", model.toString(), "hello", "-c", "2048");
        long withImage = HeapCommand.heapFor("run", model.toString(), "hello", "-c", "2048", "--image", image);
        assertThat(withImage).isGreaterThanOrEqualTo(text + scratch - 64 * HeapCommand.MIB).isGreaterThan(text);
        assertThat(HeapCommand.heapFor("chat", model.toString(), "-c", "2048")).isEqualTo(withImage);
        // a model without a tower: nothing added
        assertThat(HeapCommand.heapFor("chat", TINY, "-c", "2048")).isEqualTo(HeapCommand.heapFor("run", TINY, "hello", "-c", "2048"));
    }
}
