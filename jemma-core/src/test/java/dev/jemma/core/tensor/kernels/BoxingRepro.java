package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;

import java.lang.management.ManagementFactory;

/**
 * Whether C2 compiled a single-token kernel with boxed vectors, in a fresh JVM: calls it as {@link KernelAllocationTest}
 * does (a file-mapped copy, rounds of calls) and prints the bytes one call allocates after each round, then CLEAN or
 * BOXED. Not a test; a main for loops of JVMs. With {@code -XX:-TieredCompilation -Xbatch} (C2 compiles from the
 * interpreter's thin profile, while the caller waits) the deleted two-slice Q6_K kernel boxed every time alone (256 and
 * 128 bits), as does Q5_K's two-slice kernel at 128 bits (hence one slice there). That stress is not a pass/fail check
 * for every kernel: after the other types in the same JVM ({@code Q4_0,Q8_0,Q5_0,Q4_K,Q5_K,Q6_K}) the one-slice Q6_K
 * kernel boxes under it too (docs/PERFORMANCE.md).
 * {@code java --add-modules jdk.incubator.vector -XX:UseAVX=2 -XX:-TieredCompilation -Xbatch -cp <test classpath>
 * dev.jemma.core.tensor.kernels.BoxingRepro TYPE[,TYPE...] COLS [ROWS=256] [ROUNDS=6] [CALLS=2000]}; a TYPE written
 * {@code few:Q4_0} calls the few-token kernel (17 tokens, as {@code compiledFewTokenKernelDoesNotAllocate} does),
 * {@code tile:Q8_0} the f32 tile GEMM.
 */
public final class BoxingRepro {
    public static void main(String[] args) throws Exception {
        String[] types = args[0].split(",");
        int cols = Integer.parseInt(args[1]);
        int rows = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 6;
        int calls = args.length > 4 ? Integer.parseInt(args[4]) : 2000;
        // several types run one after another in the same JVM, as KernelAllocationTest's cases do (cols: that of the last;
        // K-quants other than the last take 1536, the others 1152)
        for (int i = 0; i < types.length; i++) {
            // "few:" a few-token kernel over 17 tokens, "tile:" the f32 tile GEMM, else the single-token kernel
            String[] kt = types[i].split(":");
            String kind = kt.length > 1 ? kt[0] : "one";
            GgmlType type = GgmlType.valueOf(kt[kt.length - 1]);
            int c = i == types.length - 1 ? cols : type.name().endsWith("_K") ? 1536 : 1152;
            Runnable call = switch (kind) {
                case "few" -> KernelAllocationTest.fewTokenCall(type, c, rows, 17);
                case "tile" -> KernelAllocationTest.tileGemmCall(type, c);
                default -> KernelAllocationTest.singleTokenCall(type, c, rows);
            };
            run(types[i], call, rounds, calls);
        }
    }

    static void run(String type, Runnable call, int rounds, int calls) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        StringBuilder sb = new StringBuilder(type + " " + VectorWidth.BITS + " bits, bytes per call after each round:");
        long last = -1;
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < calls; i++) call.run();
            long before = threads.getThreadAllocatedBytes(id);
            call.run();
            last = threads.getThreadAllocatedBytes(id) - before;
            sb.append(' ').append(last);
        }
        System.out.println(sb.append(last == 0 ? "  CLEAN" : "  BOXED"));
    }

}
