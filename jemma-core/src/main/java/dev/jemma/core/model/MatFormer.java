package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * A MatFormer slice of a Gemma 3n model, applied at load time without writing a new file: each kept layer uses the
 * first {@code ffn} neurons of its FFN (prefix rows of gate/up, prefix columns of down) and some layers are skipped
 * altogether (with their slices of the per-layer-embedding table). This is how Google cuts E2B and the
 * "mix-n-match" sizes out of E4B (HF dataset {@code google/gemma3n-slicing-configs}).
 *
 * <p>Spec syntax ({@link #parse}):
 * <ul>
 *   <li>{@code e2b} — Google's official E2B from an E4B file: layers 20–24 skipped, every FFN at half its width
 *       (16384 → 8192);</li>
 *   <li>{@code ffn=LIST;skip=LIST} — {@code ffn} is one width for every layer, or one per kept layer, or one per
 *       file layer; {@code W*K} repeats a width K times (as in Google's configs, e.g. {@code 8192*20,16384*10});
 *       {@code skip} lists file layers, with ranges {@code a-b}. Either part may be omitted.</li>
 * </ul>
 *
 * @param text        the spec as given
 * @param preset      "e2b" or null
 * @param ffn         widths as given (null: keep the file's widths, or half of them for the e2b preset)
 * @param skip        file layers to drop, ascending
 */
public record MatFormer(String text, String preset, int[] ffn, int[] skip) {
    /** Layers the official E2B slice drops from E4B's 35. */
    static final int[] E2B_SKIP = {20, 21, 22, 23, 24};
    static final int E4B_LAYERS = 35;

    /** Parses a spec; a malformed one is a {@link JemmaException} naming the bad part. */
    public static MatFormer parse(String spec) {
        if (spec == null || spec.isBlank()) throw new JemmaException("--matformer: empty spec (use e2b or ffn=…;skip=…)");
        String s = spec.trim();
        if (s.equalsIgnoreCase("e2b")) return new MatFormer(s, "e2b", null, E2B_SKIP.clone());
        int[] ffn = null, skip = new int[0];
        for (String part : s.split(";")) {
            part = part.trim();
            if (part.isEmpty()) continue;
            int eq = part.indexOf('=');
            if (eq < 0) throw new JemmaException("--matformer: '" + part + "' is not key=value (keys: ffn, skip; or the preset e2b)");
            String key = part.substring(0, eq).trim().toLowerCase(java.util.Locale.ROOT), value = part.substring(eq + 1).trim();
            switch (key) {
                case "ffn" -> ffn = parseWidths(value);
                case "skip" -> skip = parseLayers(value);
                default -> throw new JemmaException("--matformer: unknown key '" + key + "' (keys: ffn, skip)");
            }
        }
        return new MatFormer(s, null, ffn, skip);
    }

    private static int[] parseWidths(String v) {
        List<Integer> out = new ArrayList<>();
        for (String item : v.split(",")) {
            item = item.trim();
            if (item.isEmpty()) continue;
            String[] rep = item.split("\\*");
            if (rep.length > 2) throw new JemmaException("--matformer: ffn entry '" + item + "' (use WIDTH or WIDTH*COUNT)");
            int w = number(rep[0], "ffn width");
            int k = rep.length == 2 ? number(rep[1], "ffn repeat count") : 1;
            if (w <= 0 || k <= 0) throw new JemmaException("--matformer: ffn entry '" + item + "' must be positive");
            for (int i = 0; i < k; i++) out.add(w);
        }
        if (out.isEmpty()) throw new JemmaException("--matformer: ffn= lists no width");
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] parseLayers(String v) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String item : v.split(",")) {
            item = item.trim();
            if (item.isEmpty()) continue;
            int dash = item.indexOf('-');
            if (dash > 0) {
                int a = number(item.substring(0, dash), "skip range start"), b = number(item.substring(dash + 1), "skip range end");
                if (b < a) throw new JemmaException("--matformer: skip range '" + item + "' is backwards");
                for (int i = a; i <= b; i++) out.add(i);
            } else {
                out.add(number(item, "skip layer"));
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int number(String s, String what) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new JemmaException("--matformer: " + what + " '" + s.trim() + "' is not a number");
        }
    }

    /** The slice made concrete for one file. */
    record Resolved(int[] keptLayers, int[] ffnDims, String description) {
    }

    /**
     * Checks the slice against a file with these per-layer FFN widths and returns the kept file layers and their
     * widths. Widths must not exceed the file's and must cut {@code ffn_down} rows at a block boundary.
     */
    Resolved resolve(GgufFile file, int[] fileFfn) {
        final int n = fileFfn.length;
        if (preset != null && n != E4B_LAYERS) {
            throw file.error("--matformer " + preset + " needs an E4B-shaped model (" + E4B_LAYERS + " layers), this one has " + n);
        }
        boolean[] skipped = new boolean[n];
        for (int l : skip) {
            if (l < 0 || l >= n) throw file.error("--matformer: skip layer " + l + " is outside 0.." + (n - 1));
            skipped[l] = true;
        }
        int kept = n - skip.length;
        if (kept <= 0) throw file.error("--matformer: every layer is skipped");
        int[] keep = new int[kept];
        for (int l = 0, i = 0; l < n; l++) if (!skipped[l]) keep[i++] = l;
        int[] widths = new int[kept];
        for (int i = 0; i < kept; i++) {
            int fl = keep[i];
            if (ffn == null) widths[i] = preset != null ? fileFfn[fl] / 2 : fileFfn[fl];
            else if (ffn.length == 1) widths[i] = ffn[0];
            else if (ffn.length == kept) widths[i] = ffn[i];
            else if (ffn.length == n) widths[i] = ffn[fl];
            else throw file.error("--matformer: ffn lists " + ffn.length + " widths; give 1, " + kept + " (kept layers) or " + n + " (all layers)");
            if (widths[i] > fileFfn[fl]) {
                throw file.error("--matformer: ffn width " + widths[i] + " for layer " + fl + " exceeds the file's " + fileFfn[fl]);
            }
            GgufTensorInfo down = file.tensor("blk." + fl + ".ffn_down.weight");
            int block = down == null ? 1 : down.type().blockSize;
            if (widths[i] <= 0 || widths[i] % block != 0) {
                throw file.error("--matformer: ffn width " + widths[i] + " for layer " + fl + " must be a positive multiple of "
                        + block + " (the block size of blk." + fl + ".ffn_down, " + (down == null ? "?" : down.type()) + ")");
            }
        }
        String name = preset != null ? preset : "custom";
        int[] distinct = Arrays.stream(widths).distinct().toArray();
        String desc = name + ": " + kept + " of " + n + " layers" + (skip.length > 0 ? " (skipped " + ranges(skip) + ")" : "")
                + ", FFN " + (distinct.length == 1 ? String.valueOf(distinct[0]) : Arrays.toString(widths));
        return new Resolved(keep, widths, desc);
    }

    private static String ranges(int[] sorted) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sorted.length; ) {
            int j = i;
            while (j + 1 < sorted.length && sorted[j + 1] == sorted[j] + 1) j++;
            if (b.length() > 0) b.append(',');
            b.append(sorted[i]);
            if (j > i) b.append('-').append(sorted[j]);
            i = j + 1;
        }
        return b.toString();
    }
}
