package dev.jemma.core.tokenizer;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

/**
 * SentencePiece-style BPE tokenizer built from a GGUF file's {@code tokenizer.ggml.*} metadata, with the semantics
 * llama.cpp gives {@code tokenizer.ggml.model = "llama"} vocabularies (Gemma 3 and 3n):
 * <ol>
 *   <li>special tokens (control, user-defined, unknown) written literally in the input are matched as whole strings
 *       first, longest first (llama.cpp's {@code parse_special = true}; user-defined tokens are always matched);</li>
 *   <li>every other stretch of text has its spaces replaced by {@code ▁} (and a leading {@code ▁} when the file asks
 *       for {@code add_space_prefix}) and is split into characters;</li>
 *   <li>repeatedly, the adjacent pair whose concatenation is a vocabulary piece with the highest score is merged
 *       (leftmost on ties), using a priority queue over a linked list of symbols, so the cost is O(n log n);</li>
 *   <li>a character that is not a piece is emitted as its UTF-8 bytes ({@code <0xNN>} byte-fallback pieces).</li>
 * </ol>
 * Immutable and thread-safe once built.
 */
public final class Tokenizer {
    /** Token types as stored in {@code tokenizer.ggml.token_type} (SentencePiece's enumeration). */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private static final char SPACE_MARK = '\u2581';

    private final String[] pieces;
    private final float[] scores;
    private final int[] types;
    private final PieceTable table;
    private final int[] byteToken = new int[256];
    private final byte[][] pieceBytes;
    private final int bos, eos, unk, pad;
    private final boolean addBos, addSpacePrefix;
    private final SpecialMatcher specials;
    private final SpecialMatcher userDefined;
    /** Control and unknown tokens only: what {@link #protect} marks in message content. */
    private final SpecialMatcher controls;
    private final int maxPieceBytes;

    /**
     * Marks special-token text inside message content (see {@link #protect}); a Unicode noncharacter, which no text
     * in interchange carries, so it cannot be forged by content (where it is doubled).
     */
    static final char MARK = '\uFDD0';

    /**
     * @param pieces         token texts, index = id
     * @param scores         merge scores (higher merges first); may be null (all 0)
     * @param types          token types ({@link #NORMAL} …); may be null (all normal, bytes detected by their text)
     * @param bos            beginning-of-sequence id, or -1
     * @param eos            end-of-sequence id, or -1
     * @param unk            unknown-token id, or -1
     * @param pad            padding id, or -1
     * @param addBos         whether {@link #encode(String)} prepends {@code bos}
     * @param addSpacePrefix whether a space is prepended to the text (SentencePiece's dummy prefix)
     */
    public Tokenizer(String[] pieces, float[] scores, int[] types, int bos, int eos, int unk, int pad,
                     boolean addBos, boolean addSpacePrefix) {
        int n = pieces.length;
        this.pieces = pieces;
        this.scores = scores != null ? scores : new float[n];
        this.types = types != null ? types : defaultTypes(pieces);
        if (this.scores.length != n || this.types.length != n) {
            throw new JemmaException("tokenizer: " + n + " tokens but " + this.scores.length + " scores and " + this.types.length + " token types");
        }
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.pad = pad;
        this.addBos = addBos;
        this.addSpacePrefix = addSpacePrefix;
        table = new PieceTable(pieces);
        Arrays.fill(byteToken, -1);
        pieceBytes = new byte[n][];
        for (int i = 0; i < n; i++) {
            int b = byteValue(pieces[i]);
            if (this.types[i] == BYTE && b >= 0) {
                byteToken[b] = i;
                pieceBytes[i] = new byte[]{(byte) b};
            } else if (this.types[i] == CONTROL) {
                pieceBytes[i] = new byte[0];
            } else {
                pieceBytes[i] = pieces[i].replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
            }
        }
        List<Integer> all = new ArrayList<>(), user = new ArrayList<>(), control = new ArrayList<>();
        int longest = 1;
        for (int i = 0; i < n; i++) {
            int t = this.types[i];
            longest = Math.max(longest, utf8Length(pieces[i]));
            if (pieces[i].isEmpty()) continue;
            if (t == CONTROL || t == USER_DEFINED || t == UNKNOWN) all.add(i);
            if (t == USER_DEFINED) user.add(i);
            if (t == CONTROL || t == UNKNOWN) control.add(i);
        }
        maxPieceBytes = longest;
        specials = new SpecialMatcher(pieces, all);
        userDefined = new SpecialMatcher(pieces, user);
        controls = new SpecialMatcher(pieces, control);
    }

    /** Reads the vocabulary of a GGUF file (works on vocab-only files). */
    public static Tokenizer fromGguf(GgufFile f) {
        String model = f.getString("tokenizer.ggml.model");
        if (model != null && !model.equals("llama")) {
            throw f.error("tokenizer.ggml.model: '" + model + "' is not supported (only SentencePiece 'llama' vocabularies)");
        }
        String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw f.error("missing required key tokenizer.ggml.tokens");
        float[] scores = f.getFloatArray("tokenizer.ggml.scores");
        int[] types = f.getIntArray("tokenizer.ggml.token_type");
        if (scores != null && scores.length != tokens.length) {
            throw f.error("tokenizer.ggml.scores: " + scores.length + " entries for " + tokens.length + " tokens");
        }
        if (types != null && types.length != tokens.length) {
            throw f.error("tokenizer.ggml.token_type: " + types.length + " entries for " + tokens.length + " tokens");
        }
        int bos = id(f, "tokenizer.ggml.bos_token_id", tokens.length);
        int eos = id(f, "tokenizer.ggml.eos_token_id", tokens.length);
        int unk = id(f, "tokenizer.ggml.unknown_token_id", tokens.length);
        int pad = id(f, "tokenizer.ggml.padding_token_id", tokens.length);
        boolean addBos = f.getBool("tokenizer.ggml.add_bos_token", bos >= 0);
        boolean addSpacePrefix = f.getBool("tokenizer.ggml.add_space_prefix", false);
        return new Tokenizer(tokens, scores, types, bos, eos, unk, pad, addBos, addSpacePrefix);
    }

    private static int id(GgufFile f, String key, int n) {
        int v = f.getInt(key, -1);
        if (v >= n) throw f.error(key + ": id " + v + " is outside the vocabulary of " + n + " tokens");
        return v;
    }

    private static int[] defaultTypes(String[] pieces) {
        int[] t = new int[pieces.length];
        for (int i = 0; i < t.length; i++) t[i] = byteValue(pieces[i]) >= 0 ? BYTE : NORMAL;
        return t;
    }

    /** 0..255 for a piece spelled {@code <0xNN>}, else -1. */
    private static int byteValue(String p) {
        if (p.length() != 6 || !p.startsWith("<0x") || p.charAt(5) != '>') return -1;
        try {
            return Integer.parseInt(p.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- vocabulary

    public int vocabSize() {
        return pieces.length;
    }

    /** The piece's text as stored (with {@code ▁} for spaces). */
    public String piece(int id) {
        return pieces[id];
    }

    public int tokenType(int id) {
        return types[id];
    }

    public float score(int id) {
        return scores[id];
    }

    /** Id of the piece with exactly this text, if any. */
    public OptionalInt tokenId(String piece) {
        int id = table.find(piece);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public int bosId() {
        return bos;
    }

    public int eosId() {
        return eos;
    }

    public int unknownId() {
        return unk;
    }

    public int padId() {
        return pad;
    }

    /** Whether {@link #encode(String)} prepends BOS (the file's {@code add_bos_token}). */
    public boolean addsBos() {
        return addBos;
    }

    /** The longest piece's text in UTF-8 bytes: no token stands for more input than that. */
    public int maxPieceBytes() {
        return maxPieceBytes;
    }

    /**
     * The fewest tokens {@code text} can encode to, from its length alone ({@code ceil(utf8 bytes / maxPieceBytes)}):
     * lets a caller refuse text that cannot fit a context without tokenizing it.
     */
    public long minTokens(CharSequence text) {
        long bytes = utf8Length(text);
        return (bytes + maxPieceBytes - 1) / maxPieceBytes;
    }

    /** UTF-8 length of a char sequence without encoding it (an unpaired surrogate counts as the 3 bytes of U+FFFD). */
    public static long utf8Length(CharSequence s) {
        long n = 0;
        for (int i = 0, len = s.length(); i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x80) n++;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else n += 3;
        }
        return n;
    }

    private static int utf8Length(String s) {
        return (int) utf8Length((CharSequence) s);
    }

    /** Control tokens ({@code <bos>}, {@code <end_of_turn>} …) print as nothing. */
    public boolean isControl(int id) {
        return types[id] == CONTROL;
    }

    /**
     * Ids that end a model's turn: the file's eos id and the id whose text is {@code <end_of_turn>} (or
     * {@code <eot>}/{@code <|im_end|>}-style ends other vocabularies use), looked up, never hard-coded.
     */
    public int[] endOfTurnIds() {
        List<Integer> ids = new ArrayList<>();
        if (eos >= 0) ids.add(eos);
        for (String p : new String[]{"<end_of_turn>", "<eos>", "<eot>", "<|im_end|>", "<|eot_id|>"}) {
            int id = table.find(p);
            if (id >= 0 && types[id] == CONTROL || id >= 0 && types[id] == USER_DEFINED) {
                if (!ids.contains(id)) ids.add(id);
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Ids that end generation: {@link #endOfTurnIds()} and BOS. BOS only ever opens a text, so a model that generates
     * it has finished its own and would go on with a new, unrelated document: a base model trained on BOS-separated
     * documents does so where a document ends (the bundled demo model, at the end of a chapter; it has never seen
     * {@code <end_of_turn>}), while an instruction-tuned Gemma never samples it.
     */
    public int[] stopIds() {
        int[] turn = endOfTurnIds();
        if (bos < 0 || bos >= types.length) return turn;
        for (int id : turn) if (id == bos) return turn;
        int[] r = Arrays.copyOf(turn, turn.length + 1);
        r[turn.length] = bos;
        return r;
    }

    // ---------------------------------------------------------------- encoding

    /** Tokenizes with the file's BOS setting and special-token parsing on. */
    public int[] encode(String text) {
        return encode(text, addBos, true);
    }

    /** Tokenizes with special-token parsing on. */
    public int[] encode(String text, boolean withBos) {
        return encode(text, withBos, true);
    }

    /**
     * @param withBos      prepend the BOS id (when the vocabulary has one)
     * @param parseSpecial match control tokens written in the text ({@code <start_of_turn>}); user-defined tokens are
     *                     matched either way
     */
    public int[] encode(String text, boolean withBos, boolean parseSpecial) {
        IntList out = new IntList(Math.max(16, text.length() / 3));
        if (withBos && bos >= 0) out.add(bos);
        boolean prevSpecial = true;
        SpecialMatcher m = parseSpecial ? specials : userDefined;
        List<int[]> frags = m.partition(text);
        for (int[] fr : frags) {
            if (fr[2] >= 0) {
                out.add(fr[2]);
                prevSpecial = true;
            } else {
                String raw = text.substring(fr[0], fr[1]);
                if (addSpacePrefix && prevSpecial) raw = " " + raw;
                bpe(raw.replace(' ', SPACE_MARK), out);
                prevSpecial = false;
            }
        }
        return out.toArray();
    }

    /**
     * Marks the control-token text inside a message's content ({@code <end_of_turn>} typed by a user) so that
     * {@link #encodePrompt} keeps it as text, as llama.cpp tokenizes user content with {@code parse_special} off;
     * the chat template's own control tokens around the content stay tokens. User-defined tokens are left alone
     * (they are matched in any text). Content without control-token text is returned as is.
     */
    public String protect(String content) {
        if (content.indexOf(MARK) < 0) {
            boolean any = false;
            for (int[] fr : controls.partition(content)) any |= fr[2] >= 0;
            if (!any) return content;
        }
        StringBuilder sb = new StringBuilder(content.length() + 8);
        for (int[] fr : controls.partition(content)) {
            for (int i = fr[0]; i < fr[1]; i++) {
                char c = content.charAt(i);
                sb.append(c);
                // doubled: a mark the content carried itself stays one literal character
                if (c == MARK) sb.append(MARK);
                else if (fr[2] >= 0 && i == fr[0]) sb.append(MARK);
            }
        }
        return sb.toString();
    }

    /**
     * Tokenizes a prompt rendered from a chat template whose message contents went through {@link #protect}: special
     * tokens written by the template are parsed, marked text in the contents stays text; no BOS is added (the template
     * writes it).
     */
    public int[] encodePrompt(String rendered) {
        if (rendered.indexOf(MARK) < 0) return encode(rendered, false, true);
        IntList out = new IntList(Math.max(16, rendered.length() / 3));
        boolean prevSpecial = true;
        for (int[] fr : specials.partition(rendered)) {
            if (fr[2] >= 0) {
                out.add(fr[2]);
                prevSpecial = true;
            } else {
                String raw = unmark(rendered, fr[0], fr[1]);
                if (raw.isEmpty()) continue;
                if (addSpacePrefix && prevSpecial) raw = " " + raw;
                bpe(raw.replace(' ', SPACE_MARK), out);
                prevSpecial = false;
            }
        }
        return out.toArray();
    }

    /** Removes the marks {@link #protect} inserted (a doubled mark is one literal mark). */
    private static String unmark(String s, int from, int to) {
        StringBuilder sb = new StringBuilder(to - from);
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c != MARK) sb.append(c);
            else if (i + 1 < to && s.charAt(i + 1) == MARK) {
                sb.append(MARK);
                i++;
            }
        }
        return sb.toString();
    }

    /** SentencePiece BPE over one stretch of text without special tokens. */
    private void bpe(String s, IntList out) {
        int len = s.length();
        if (len == 0) return;
        // symbols = code points, as a doubly linked list over their start offsets (in chars)
        int[] start = new int[len], size = new int[len], prev = new int[len], next = new int[len];
        int n = 0;
        for (int i = 0; i < len; ) {
            int cl = Character.charCount(s.codePointAt(i));
            if (i + cl > len) cl = len - i;
            start[n] = i;
            size[n] = cl;
            prev[n] = n - 1;
            next[n] = i + cl < len ? n + 1 : -1;
            n++;
            i += cl;
        }
        BigramHeap heap = new BigramHeap(Math.max(4, n));
        for (int i = 0; i + 1 < n; i++) tryAdd(s, i, i + 1, start, size, heap);
        while (heap.size > 0) {
            int l = heap.topLeft(), r = heap.topRight(), sz = heap.topSize();
            heap.pop();
            // stale: one side already merged away or grown since the bigram was queued
            if (size[l] == 0 || size[r] == 0 || size[l] + size[r] != sz) continue;
            size[l] += size[r];
            size[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) tryAdd(s, prev[l], l, start, size, heap);
            if (next[l] >= 0) tryAdd(s, l, next[l], start, size, heap);
        }
        for (int i = 0; i >= 0 && i < n; i = next[i]) {
            int id = table.find(s, start[i], start[i] + size[i]);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            // merged symbols are always pieces, so this is one character missing from the vocabulary
            byte[] utf8 = s.substring(start[i], start[i] + size[i]).getBytes(StandardCharsets.UTF_8);
            for (byte bt : utf8) {
                int t = byteToken[bt & 0xff];
                out.add(t >= 0 ? t : unk >= 0 ? unk : 0);
            }
        }
    }

    private void tryAdd(String s, int l, int r, int[] start, int[] size, BigramHeap heap) {
        int from = start[l], to = start[r] + size[r];
        int id = table.find(s, from, to);
        if (id >= 0) heap.push(scores[id], l, r, to - from);
    }

    /**
     * Max-heap of candidate merges in parallel arrays (no object per candidate): highest score first, then the
     * leftmost, which is SentencePiece's and llama.cpp's order.
     */
    private static final class BigramHeap {
        float[] score;
        int[] left, right, sz;
        int size;

        BigramHeap(int cap) {
            score = new float[cap];
            left = new int[cap];
            right = new int[cap];
            sz = new int[cap];
        }

        private boolean before(int a, int b) {
            return score[a] > score[b] || score[a] == score[b] && left[a] < left[b];
        }

        void push(float s, int l, int r, int n) {
            if (size == score.length) {
                int c = size * 2;
                score = Arrays.copyOf(score, c);
                left = Arrays.copyOf(left, c);
                right = Arrays.copyOf(right, c);
                sz = Arrays.copyOf(sz, c);
            }
            int i = size++;
            score[i] = s;
            left[i] = l;
            right[i] = r;
            sz[i] = n;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (!before(i, p)) break;
                swap(i, p);
                i = p;
            }
        }

        int topLeft() {
            return left[0];
        }

        int topRight() {
            return right[0];
        }

        int topSize() {
            return sz[0];
        }

        void pop() {
            size--;
            if (size == 0) return;
            score[0] = score[size];
            left[0] = left[size];
            right[0] = right[size];
            sz[0] = sz[size];
            int i = 0;
            while (true) {
                int a = 2 * i + 1, b = a + 1, m = i;
                if (a < size && before(a, m)) m = a;
                if (b < size && before(b, m)) m = b;
                if (m == i) break;
                swap(i, m);
                i = m;
            }
        }

        private void swap(int i, int j) {
            float s = score[i];
            score[i] = score[j];
            score[j] = s;
            int t = left[i];
            left[i] = left[j];
            left[j] = t;
            t = right[i];
            right[i] = right[j];
            right[j] = t;
            t = sz[i];
            sz[i] = sz[j];
            sz[j] = t;
        }
    }

    // ---------------------------------------------------------------- decoding

    /** The UTF-8 bytes a token stands for (empty for control tokens, one byte for byte-fallback pieces). */
    public byte[] tokenBytes(int id) {
        if (id < 0 || id >= pieces.length) throw new JemmaException("token id " + id + " is outside the vocabulary (0.." + (pieces.length - 1) + ")");
        return pieceBytes[id];
    }

    /** Decodes ids to text; control tokens are dropped, invalid UTF-8 becomes U+FFFD. */
    public String decode(int[] ids) {
        StreamDecoder d = newDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.accept(id));
        sb.append(d.flush());
        return sb.toString();
    }

    /** A fresh incremental decoder for streaming output. */
    public StreamDecoder newDecoder() {
        return new StreamDecoder(this);
    }

    /** Growable int array, to avoid boxing on the hot path. */
    static final class IntList {
        int[] a;
        int n;

        IntList(int cap) {
            a = new int[cap];
        }

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, a.length * 2);
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
