package dev.jemma.core.tensor.attention;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The attention calls of a fresh server's warm-up and then of its first two C = 8 waves, without a model (issue 19):
 * Gemma 3 1B's shape (4 query heads, 1 KV head of 256; 26 layers, five sliding of window 512 to one global), steps run
 * in parts of {@code maxBatch} rows exactly as {@code Gemma3Model.attentionBlock} runs them (one {@link Attention.Runs}
 * per part, then each sequence's keys stored in its cache), the warm-up's steps as {@code Engine.warmUpPlan} lays them
 * out at {@code --parallel 8}. The first wave is 8 prompts in one step; the second, each client's next prompt in chunks
 * of 9 rows beside the other 7 streams' decode rows, as the scheduler runs a prompt that arrives while others decode.
 * Not a test; by hand, with the deoptimization log:
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xlog:deoptimization=debug:file=deopt.log:uptimemillis \
 *        -cp jemma-core/target/classes:jemma-core/target/test-classes \
 *        dev.jemma.core.tensor.attention.FirstWaveDriver [plan rounds before,after the long prompt (40,40)] [prompt 128] [streams 8] [threads 2]
 * </pre>
 * Prints each phase's CPU, JVM uptime at its start and the bytes this thread allocated in it (the pool's other threads
 * are not counted; ~130 MB a wave is the driver's own caches); a kernel running uncompiled after the warm-up shows as
 * hundreds of megabytes more and as a trap in the log. With {@code 3,3}: before the loop-bound change in
 * {@link Attention} the second wave trapped in valueTile6 ({@code profile_predicate} at bci 183, then
 * {@code loop_limit_check} at 671) in 6 of 6 JVMs and allocated 0.5–2.4 GB; after it, no trap from the first wave on in 6 of 6.
 */
public final class FirstWaveDriver {
    static final int HEADS = 4, KV_HEADS = 1, HEAD_DIM = 256, MAX_BATCH = 64, WINDOW = 512;
    static final int QDIM = HEADS * HEAD_DIM, KVDIM = KV_HEADS * HEAD_DIM;
    /** The 1B's 26 layers: five sliding to one global. */
    static final Visibility[] LAYERS = new Visibility[26];

    static {
        for (int l = 0; l < LAYERS.length; l++) LAYERS[l] = l % 6 == 5 ? Visibility.CAUSAL : Visibility.causal(WINDOW);
    }

    private final ThreadPool pool;
    private final Attention.Scratch[] scratch;
    private final Attention.Runs runs = new Attention.Runs();
    private final float[] q = new float[MAX_BATCH * QDIM], att = new float[MAX_BATCH * QDIM];
    private final float[] k = new float[MAX_BATCH * KVDIM], v = new float[MAX_BATCH * KVDIM];
    private final Random rnd = new Random(19);

    FirstWaveDriver(ThreadPool pool) {
        this.pool = pool;
        this.scratch = Attention.scratch(pool.threads());
    }

    /** One sequence of a step: its cache (its length is where the rows start) and its row count. */
    record Part(Seq seq, int rows) {
    }

    static final class Seq {
        final KvCache cache;
        int length;

        Seq(int context) {
            int n = LAYERS.length;
            int[] cap = new int[n], dims = new int[n], src = new int[n];
            for (int l = 0; l < n; l++) {
                cap[l] = LAYERS[l].isCausal() && LAYERS[l].window() > 0 ? Math.min(WINDOW, context) : context;
                dims[l] = KVDIM;
                src[l] = l;
            }
            cache = new KvCache(cap, dims, src, context);
        }
    }

    /** One scheduler step: the sequences' rows one after the other, run in parts of {@link #MAX_BATCH} rows. */
    void step(List<Part> parts) {
        List<int[]> rows = new ArrayList<>(); // per row: sequence index, position
        for (int i = 0; i < parts.size(); i++) {
            for (int t = 0; t < parts.get(i).rows; t++) rows.add(new int[]{i, parts.get(i).seq.length + t});
        }
        for (int from = 0; from < rows.size(); from += MAX_BATCH) {
            int count = Math.min(MAX_BATCH, rows.size() - from);
            for (float[] a : new float[][]{q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 0.2f;
            for (int l = 0; l < LAYERS.length; l++) {
                runs.clear();
                for (int r = 0; r < count; ) {
                    int seq = rows.get(from + r)[0], run = 1;
                    while (r + run < count && rows.get(from + r + run)[0] == seq) run++;
                    runs.add(LAYERS[l], KvView.ring(parts.get(seq).seq.cache, l), r, run, rows.get(from + r)[1]);
                    r += run;
                }
                Attention.attend(pool, scratch, runs, q, att, HEADS, KV_HEADS, HEAD_DIM, k, v);
                for (int t = 0; t < count; t++) {
                    int[] row = rows.get(from + t);
                    parts.get(row[0]).seq.cache.put(l, row[1], k, t * KVDIM, v, t * KVDIM);
                }
            }
        }
        for (Part p : parts) p.seq.length += p.rows;
    }

    public static void main(String[] args) {
        // plan-only rounds before the long prompt and wave step, and after them: C2 compiles the kernels somewhere in the
        // warm-up, and which shapes its profile had seen by then is what decides its speculation
        String[] r = (args.length > 0 ? args[0] : "40,40").split(",");
        int before = Integer.parseInt(r[0]), after = Integer.parseInt(r[1]), rounds = before + 1 + after;
        int prompt = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int streams = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        try (ThreadPool pool = new ThreadPool(threads)) {
            FirstWaveDriver d = new FirstWaveDriver(pool);
            // Engine.warmUpPlan(8, 16, 64): 1..8 decode rows; 7 decode rows + a 9-row chunk; a 64-row prompt; 17, 20, 23
            int[][] plan = {{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {8, 0}, {7, 9}, {0, 64}, {0, 17},
                    {0, 20}, {0, 23}};
            int context = 160 + 2 * 8 + 8;
            for (int round = 1; round <= rounds; round++) {
                long c0 = mx.getCurrentThreadCpuTime(), a0 = mx.getThreadAllocatedBytes(id);
                List<Seq> decode = new ArrayList<>();
                for (int i = 0; i < 8; i++) decode.add(new Seq(context));
                Seq promptSeq = new Seq(context);
                for (int[] s : plan) {
                    List<Part> parts = new ArrayList<>();
                    for (int i = 0; i < s[0]; i++) parts.add(new Part(decode.get(i), 1));
                    if (s[1] > 0) parts.add(new Part(promptSeq, s[1]));
                    d.step(parts);
                    promptSeq = new Seq(context);
                }
                if (round == before + 1) {
                    // the long prompt beside the decode rows, then the wave step (two prompts of maxBatch + 20)
                    List<Part> parts = new ArrayList<>();
                    for (int i = 0; i < 8; i++) parts.add(new Part(decode.get(i), 1));
                    parts.add(new Part(new Seq(context), 160));
                    d.step(parts);
                    d.step(List.of(new Part(new Seq(context), MAX_BATCH + 20), new Part(new Seq(context), MAX_BATCH + 20)));
                }
                if (round <= 2 || round == before + 1 || round == rounds) System.out.printf("warm-up round %d: %.2f s CPU, %d KB allocated%n", round,
                        (mx.getCurrentThreadCpuTime() - c0) / 1e9, (mx.getThreadAllocatedBytes(id) - a0) / 1024);
            }
            long up0 = ManagementFactory.getRuntimeMXBean().getUptime();
            long c0 = mx.getCurrentThreadCpuTime(), a0 = mx.getThreadAllocatedBytes(id);
            List<Part> wave = new ArrayList<>();
            for (int i = 0; i < streams; i++) wave.add(new Part(new Seq(2 * prompt + 64), prompt));
            d.step(wave);
            System.out.printf("first wave (%d × %d rows in one step, from %d ms of uptime): %.2f s CPU, %d KB allocated%n", streams, prompt, up0,
                    (mx.getCurrentThreadCpuTime() - c0) / 1e9, (mx.getThreadAllocatedBytes(id) - a0) / 1024);
            // the second wave: each client's next request arrives while the others decode, and its prompt runs in
            // chunks beside their rows (StepScheduler.promptRows(16, 7): 9 rows beside 7), so its items start at
            // positions that are not multiples of 4 and its value blocks may hold one key
            up0 = ManagementFactory.getRuntimeMXBean().getUptime();
            c0 = mx.getCurrentThreadCpuTime();
            a0 = mx.getThreadAllocatedBytes(id);
            for (int i = 0; i < streams; i++) {
                Seq next = new Seq(2 * prompt + 64);
                for (int done = 0; done < prompt; ) {
                    int rows = Math.min(9, prompt - done);
                    List<Part> parts = new ArrayList<>();
                    for (int j = 0; j < streams; j++) if (j != i) parts.add(new Part(wave.get(j).seq, 1));
                    parts.add(new Part(next, rows));
                    d.step(parts);
                    done += rows;
                }
                for (Part p : wave) p.seq.length = prompt; // the decode rows' caches stay within their context
            }
            System.out.printf("second wave (%d prompts in chunks of 9 beside %d decode rows, from %d ms): %.2f s CPU, %d KB allocated%n",
                    streams, streams - 1, up0, (mx.getCurrentThreadCpuTime() - c0) / 1e9, (mx.getThreadAllocatedBytes(id) - a0) / 1024);
        }
    }
}
