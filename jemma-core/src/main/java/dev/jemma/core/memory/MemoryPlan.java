package dev.jemma.core.memory;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvLayout;
import dev.jemma.core.tensor.GgmlType;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * What loading a model will cost, computed before anything is allocated: the weights (mapped from the file, so
 * they live in the page cache, not the Java heap), the KV cache for the requested context (per-layer capacity: a
 * ring of {@code window} slots on sliding layers, the whole context on global ones; layers that borrow another
 * layer's cache cost nothing), the forward pass's scratch buffers, and a heap headroom. {@link #check()} refuses a
 * plan that cannot fit with one line that gives the numbers and what to change.
 *
 * <p>Available memory is {@link SystemMemory}'s. The plan knows no architecture: the model's sizes come from its
 * {@code Architecture} (see {@code ModelLoader.plan}), the KV bytes from the one formula in {@link KvLayout}.
 * {@code jemma.memory.check=false} turns the refusal off.
 *
 * @param weightBytes    bytes of tensor data the model reads (all of the file's, less what a MatFormer slice drops:
 *                       skipped layers, the cut-off FFN neurons, K/V projections of layers that share K/V)
 * @param mappedBytes    the part of {@code weightBytes} that stays mapped and is read a row per token (Gemma 3n's
 *                       per-layer-embedding table): it lives on disk / in the page cache on demand, so it is not
 *                       counted against available memory; the rest is "in fast memory"
 * @param bytesByType    tensor count and bytes per tensor type
 * @param kvBytes        KV caches for {@code contextLength} positions, {@code sequences} of them
 * @param kvLayout       the KV cache's shape (per-layer window, width, owner), as the model allocates it
 * @param scratchBytes   one forward's buffers: activations and logits for a batch of {@code maxBatch} tokens and the
 *                       attention rows for {@code contextLength} keys (an engine runs one forward at a time)
 * @param scratchBytesPerPosition the part of {@code scratchBytes} that grows with the context, per position (the
 *                       attention rows), so that advice on a smaller context counts it
 * @param headroomBytes  heap kept free for everything else: a caller's copy of a batch of logits, the tokenizer,
 *                       temporary arrays, the JVM's own use
 * @param heapLimit      the JVM's maximum heap, bytes
 * @param memAvailable   memory the system can still give, bytes; -1 when unknown
 * @param trainedContext the model's own context length: advice never suggests a longer one
 * @param sequences      KV caches the plan holds at once (a server's KV pool: one per parallel slot)
 * @param sequenceWorkBytes heap each generation running in a slot holds besides its KV cache: its logits row, which every
 *                       step refills, and the sampler's penalised copy of it (two rows of the vocabulary's floats)
 * @param copy           the interleaved copy the model's matrices are read from in the default mode, or null (exact mode,
 *                       f32 activations, or a model without one): where it is, its size, whether the first load must
 *                       build it. With a copy, fast memory holds the copy and the GGUF bytes it does not replace.
 * @param visionCopy     the interleaved copy of the vision tower's matrices that the first image builds, or maps once
 *                       built (Gemma 3n's MobileNet-V5 in the default mode), where the model will be given images
 *                       ({@code jemma serve}, {@code jemma chat}, {@code jemma run --image}: {@code EngineOptions.images});
 *                       else null. It is resident beside the text weights once an image has been encoded, so it counts
 *                       in {@link #totalBytes} and in the fit.
 * @param imageScratchBytes Java heap one image's encoding holds at its peak where the model will be given images (the
 *                       image encoder's {@code VisionEncoder.scratchBytes}: SigLIP's or MobileNet-V5's activations; the
 *                       engine encodes one image at a time), else 0. It is heap beside the forward's buffers, so it counts
 *                       in {@link #heapNeeded}: a JVM whose heap has no room for it is refused at load, not at the first image.
 */
public record MemoryPlan(String file, int contextLength, int maxBatch, long weightBytes, long mappedBytes, Map<GgmlType, long[]> bytesByType,
                         long kvBytes, KvLayout kvLayout, long scratchBytes, long headroomBytes, long heapLimit, long memAvailable,
                         int trainedContext, int sequences, long scratchBytesPerPosition, long sequenceWorkBytes, WeightCopy copy,
                         WeightCopy visionCopy, long imageScratchBytes) {

    /** Context used when none is asked for: the model's own, capped (a 128K cache on every load would be wasteful). */
    public static final int DEFAULT_CONTEXT_CAP = 8192;
    /** Heap reserved beyond KV cache, scratch and a caller's copy of a batch of logits (tokenizer, temporaries, JVM). */
    public static final long HEADROOM = 64L << 20;

    /** The context used when none is asked for, for a model trained for {@code trainedContext} positions. */
    public static int defaultContext(int trainedContext) {
        return Math.min(trainedContext, DEFAULT_CONTEXT_CAP);
    }

    /**
     * The plan for {@code file}'s model, whose sizes its architecture gives: {@code contextLength} positions (0: the
     * default for {@code trainedContext}), batches of {@code maxBatch} tokens, {@code weightBytes} of tensor data read
     * of which {@code mappedBytes} sparsely, the KV shape, one forward's scratch (bytes whatever the context, and bytes
     * per position of context), {@code vocab} logits per token.
     */
    public static MemoryPlan of(GgufFile file, int contextLength, int trainedContext, int maxBatch, long weightBytes, long mappedBytes,
                                KvLayout kv, long scratchFixedBytes, long scratchBytesPerPosition, int vocab) {
        int ctx = contextLength > 0 ? contextLength : defaultContext(trainedContext);
        Map<GgmlType, long[]> byType = new EnumMap<>(GgmlType.class);
        for (GgufTensorInfo t : file.tensors().values()) {
            long[] e = byType.computeIfAbsent(t.type(), k -> new long[2]);
            e[0]++;
            e[1] += t.byteSize();
        }
        return new MemoryPlan(file.path().getFileName().toString(), ctx, maxBatch, weightBytes, mappedBytes, Collections.unmodifiableMap(byType),
                kv.bytes(ctx), kv, scratchFixedBytes + scratchBytesPerPosition * Math.max(ctx, maxBatch), HEADROOM + 4L * maxBatch * vocab,
                SystemMemory.heapLimit(), SystemMemory.available(), Math.max(1, trainedContext), 1, scratchBytesPerPosition,
                sequenceWorkBytes(vocab), null, null, 0);
    }

    /** This plan with {@code n} KV caches of {@link #contextLength} positions each (a KV pool of n slots). */
    public MemoryPlan withSequences(int n) {
        if (n < 1) throw new IllegalArgumentException("sequences must be >= 1, got " + n);
        return new MemoryPlan(file, contextLength, maxBatch, weightBytes, mappedBytes, bytesByType, kvLayout.bytes(contextLength) * n, kvLayout,
                scratchBytes, headroomBytes, heapLimit, memAvailable, trainedContext, n, scratchBytesPerPosition, sequenceWorkBytes, copy,
                visionCopy, imageScratchBytes);
    }

    /** This plan with the model's matrices read from {@code c} (null: from the GGUF, as in exact mode). */
    public MemoryPlan withCopy(WeightCopy c) {
        return new MemoryPlan(file, contextLength, maxBatch, weightBytes, mappedBytes, bytesByType, kvBytes, kvLayout,
                scratchBytes, headroomBytes, heapLimit, memAvailable, trainedContext, sequences, scratchBytesPerPosition, sequenceWorkBytes, c,
                visionCopy, imageScratchBytes);
    }

    /** This plan with the vision tower's copy {@code c} resident too (null: none, a run without images). */
    public MemoryPlan withVisionCopy(WeightCopy c) {
        return withImages(c, imageScratchBytes);
    }

    /**
     * This plan for a run given images: the vision tower's copy {@code c} resident (null: the encoder makes none) and
     * {@code scratch} bytes of heap while an image is encoded.
     */
    public MemoryPlan withImages(WeightCopy c, long scratch) {
        if (scratch < 0) throw new IllegalArgumentException("image scratch must be >= 0, got " + scratch);
        return new MemoryPlan(file, contextLength, maxBatch, weightBytes, mappedBytes, bytesByType, kvBytes, kvLayout,
                scratchBytes, headroomBytes, heapLimit, memAvailable, trainedContext, sequences, scratchBytesPerPosition, sequenceWorkBytes, copy, c,
                scratch);
    }

    /** Bytes of {@link #visionCopy}, 0 without one. */
    public long visionCopyBytes() {
        return visionCopy == null ? 0 : visionCopy.bytes();
    }

    /** What lives off the Java heap and must stay in memory: the weights in fast memory and the vision copy. */
    private long offHeapBytes() {
        return fastWeightBytes() + visionCopyBytes();
    }

    /** Heap a running generation holds besides its KV cache, for a vocabulary of {@code vocab}: two rows of f32 logits. */
    public static long sequenceWorkBytes(int vocab) {
        return 2L * 4 * vocab;
    }

    /** Heap of the KV caches and the running generations' rows: what grows with the slots. */
    public long sequenceBytes() {
        return kvBytes + (long) sequences * sequenceWorkBytes;
    }

    /** KV bytes of one sequence's cache at {@link #contextLength}. */
    public long kvBytesPerSequence() {
        return kvLayout.bytes(contextLength);
    }

    /** "a 4096-token context" or "4 × 1024-token contexts" (the pool's shape, for messages). */
    private String contextPhrase() {
        return sequences > 1 ? sequences + " × " + contextLength + "-token contexts" : "a " + contextLength + "-token context";
    }

    /** KV bytes per ring slot, summed over the sliding layers that own a cache. */
    public long kvSlotBytes() {
        return kvLayout.slotBytes();
    }

    /** KV bytes per context position, summed over the global layers that own a cache. */
    public long kvPositionBytes() {
        return kvLayout.positionBytes();
    }

    /** Sliding window (ring capacity), 0 when no layer slides. */
    public int window() {
        return kvLayout.maxWindow();
    }

    /** Heap the model needs: KV caches and each slot's generation rows + scratch + headroom + an image's encoding. */
    public long heapNeeded() {
        return sequenceBytes() + scratchBytes + headroomBytes + imageScratchBytes;
    }

    /**
     * Weights that must stay resident for speed: every byte the model reads except the row-per-token tables; with a
     * weight copy, the copy's bytes in place of the GGUF bytes of the matrices it replaces (measured: a 1B Q4_0 runs
     * with the 714 MB copy resident and none of the GGUF; an E2B Q4_0 with its 1.48 GB copy and ~47 MB of the GGUF).
     */
    public long fastWeightBytes() {
        return copy == null ? weightBytes - mappedBytes : weightBytes - mappedBytes - copy.sourceBytes() + copy.bytes();
    }

    /** The part of {@link #fastWeightBytes} read from the GGUF itself (all of it without a copy). */
    public long fastGgufBytes() {
        return copy == null ? fastWeightBytes() : weightBytes - mappedBytes - copy.sourceBytes();
    }

    /**
     * What the first load holds at its peak while it builds the copy: the plan, and the GGUF's pages of the copied
     * matrices, which the build reads once (page cache the kernel can reclaim, but resident in the process meanwhile:
     * a 1B Q4_0 peaks at 1.5 GB for 0.96 GB after). {@link #totalBytes} when no copy is to be built.
     */
    public long firstLoadPeakBytes() {
        return copy == null || copy.present() ? totalBytes() : totalBytes() + copy.sourceBytes();
    }

    /**
     * What must fit in memory: the weights in fast memory (page cache), the vision copy where images will be given, and
     * the heap; mapped tables are left to the disk.
     */
    public long totalBytes() {
        return offHeapBytes() + heapNeeded();
    }

    /**
     * Null when the plan fits, else the one-line reason with the numbers and what to change. The advice stays within
     * the model and the machine: a context no longer than the model's own, a heap no larger than the memory there is.
     */
    public String problem() {
        if (heapNeeded() > heapLimit) {
            java.util.List<String> ways = new java.util.ArrayList<>();
            String ctx = contextAdvice(heapLimit);
            if (ctx != null) ways.add(ctx);
            long xmx = Math.max(1, (heapNeeded() + (1L << 30) - 1) >> 30);
            // a heap the machine cannot back would only move the failure to swap or the OOM killer
            if (memAvailable < 0 || offHeapBytes() + (xmx << 30) <= memAvailable) {
                ways.add("give Java a larger heap (JEMMA_JAVA_OPTS=-Xmx" + xmx + "g)");
            } else if (ctx == null) {
                ways.add("use a smaller model file (a lower quantization) or free memory: this machine has " + gb(memAvailable) + " available");
            }
            return file + ": needs " + gb(heapNeeded()) + " of Java heap for " + contextPhrase() + " (KV cache "
                    + gb(kvBytes) + " + logits rows " + gb((long) sequences * sequenceWorkBytes) + " + scratch " + gb(scratchBytes)
                    + " + headroom " + gb(headroomBytes) + imagePhrase() + ") but the JVM allows "
                    + gb(heapLimit) + "; " + String.join(" or ", ways);
        }
        if (memAvailable >= 0 && totalBytes() > memAvailable) {
            String advice;
            String ctx = kvBytes > fastWeightBytes() / 4 && contextLength > 1024 || contextLength > trainedContext
                    ? contextAdvice(memAvailable - offHeapBytes()) : null;
            if (ctx != null) {
                advice = ctx + " or a smaller model file";
            } else if (kvBytes > fastWeightBytes() / 4 && contextLength > 1024) {
                advice = "use a smaller model file (a lower quantization)";
            } else {
                advice = "use a smaller model file (a lower quantization, e.g. Q4_0) or free memory";
            }
            String weights = (mappedBytes > 0 ? "weights in fast memory " : "weights ") + gb(fastWeightBytes()) + copyPhrase()
                    + (mappedBytes > 0 ? ", " + gb(mappedBytes) + " more mapped from disk" : "");
            if (visionCopy != null) weights += " + the vision tower's copy " + gb(visionCopy.bytes()) + " (built by the first image)";
            return file + ": needs " + gb(totalBytes()) + " (" + weights + " + KV cache " + gb(kvBytes) + " for "
                    + contextPhrase() + " + scratch " + gb(heapNeeded() - kvBytes - imageScratchBytes) + imagePhrase() + ") but only " + gb(memAvailable)
                    + " of memory is available; " + advice;
        }
        return null;
    }

    /** " + an image's encoding 392 MB" where the run will be given images: the part of the heap it needs. */
    private String imagePhrase() {
        return imageScratchBytes > 0 ? " + an image's encoding " + gb(imageScratchBytes) : "";
    }

    /**
     * " (the interleaved weight copy 1.48 GB, built by this load, + 47 MB of the GGUF)": what the weights in fast memory
     * are where the default mode reads the matrices from a copy, so that a refusal caused by the copy names it; empty
     * without one.
     */
    private String copyPhrase() {
        if (copy == null) return "";
        long gguf = fastGgufBytes();
        return " (the interleaved weight copy " + gb(copy.bytes()) + (copy.present() ? "" : ", built by this load")
                + (gguf > 0 ? " + " + gb(gguf) + " of the GGUF" : "") + ")";
    }

    /**
     * "use a smaller context (-c N)" for the largest context that fits {@code budget} bytes of KV cache, scratch and
     * headroom, capped at the model's own context; null when no smaller context fits or would help.
     */
    private String contextAdvice(long budget) {
        int fits = Math.min(largestContextFitting(budget), trainedContext);
        if (fits < 1 || fits >= contextLength) return null;
        if (sequences > 1) {
            // a pool's -c is its total, split among the slots (as llama-server's)
            return "use a smaller KV budget (-c " + (long) fits * sequences + ": " + fits + " per slot for --parallel " + sequences + ") or fewer slots";
        }
        return "use a smaller context (-c " + fits + (fits == trainedContext ? ", the model's own" : "") + ")";
    }

    public boolean fits() {
        return problem() == null;
    }

    /** Throws a {@link JemmaException} with {@link #problem()} unless the plan fits or {@code -Djemma.memory.check=false}. */
    public MemoryPlan check() {
        return check(dev.jemma.core.JemmaProperties.memoryCheck());
    }

    /** Throws a {@link JemmaException} with {@link #problem()} when {@code enabled} and the plan does not fit. */
    public MemoryPlan check(boolean enabled) {
        if (!enabled) return this;
        String p = problem();
        if (p != null) throw new JemmaException(p);
        return this;
    }

    /** Largest context (a multiple of 256, or of 1 below 256) whose KV cache + scratch + headroom fit {@code budget}. */
    private int largestContextFitting(long budget) {
        long fixed = scratchBytes - scratchBytesPerPosition * Math.max(contextLength, maxBatch) + headroomBytes + imageScratchBytes;
        int lo = 0, hi = contextLength;
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if ((kvBytesAt(mid) + sequenceWorkBytes) * sequences + scratchBytesPerPosition * Math.max(mid, maxBatch) + fixed <= budget) lo = mid;
            else hi = mid - 1;
        }
        return lo >= 256 ? lo / 256 * 256 : lo;
    }

    /** KV bytes this model would need for another context length. */
    public long kvBytesAt(int ctx) {
        return kvLayout.bytes(ctx);
    }

    /** "1.23 GB" (decimal units, like file sizes in ls -h --si and llama.cpp's logs). */
    public static String gb(long bytes) {
        return SystemMemory.gb(bytes);
    }
}
