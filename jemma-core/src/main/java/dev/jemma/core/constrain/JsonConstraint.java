package dev.jemma.core.constrain;

import dev.jemma.core.engine.TokenFilter;
import dev.jemma.core.tokenizer.Tokenizer;

/**
 * JSON mode ({@code "format": "json"}, {@code response_format: json_object}): masks every token that cannot continue
 * a JSON object, so the answer is a JSON object (as llama.cpp's json grammar and Ollama do) and the turn can only
 * end once that object is complete. A byte-level pushdown automaton checks each candidate token's bytes from the
 * current state; tokens of plain string text are accepted inside strings without simulation, and outside strings
 * only tokens whose first byte can come next are simulated, which keeps a 262k vocabulary cheap per step.
 *
 * <p>Use: build one {@link Vocab} per model (it is immutable and shared), then a fresh constraint per generation,
 * set with {@link dev.jemma.core.engine.Session#setTokenFilter}.
 */
public final class JsonConstraint implements TokenFilter {
    /** Per-vocabulary tables, built once per model. */
    public static final class Vocab {
        final byte[][] bytes;
        final boolean[] usable;     // may appear in JSON text at all (no control / special tokens)
        final boolean[] plain;      // only string-safe bytes: no '"', '\\' or control characters
        final boolean[] endOfTurn;

        /** Tables for {@code tok}'s first {@code vocab} ids (the model's logit count). */
        public Vocab(Tokenizer tok, int vocab) {
            bytes = new byte[vocab][];
            usable = new boolean[vocab];
            plain = new boolean[vocab];
            endOfTurn = new boolean[vocab];
            for (int id : tok.endOfTurnIds()) if (id < vocab) endOfTurn[id] = true;
            for (int id = 0; id < vocab; id++) {
                int type = tok.tokenType(id);
                byte[] b = tok.tokenBytes(id);
                bytes[id] = b;
                boolean special = type == Tokenizer.CONTROL || type == Tokenizer.UNKNOWN || type == Tokenizer.UNUSED
                        || (type == Tokenizer.USER_DEFINED && b.length > 2 && b[0] == '<' && b[b.length - 1] == '>');
                usable[id] = !special && !endOfTurn[id] && b.length > 0;
                boolean p = usable[id];
                for (byte x : b) {
                    int c = x & 0xff;
                    if (c < 0x20 || c == '"' || c == '\\') {
                        p = false;
                        break;
                    }
                }
                plain[id] = p;
            }
        }
    }

    // Automaton modes.
    private static final int ROOT = 0, VALUE = 1, OBJ_FIRST = 2, OBJ_KEY = 3, COLON = 4, AFTER = 5, ARR_FIRST = 6,
            STRING = 7, ESCAPE = 8, UNICODE = 9, NUMBER = 10, LITERAL = 11, DONE = 12;
    // Number sub-states.
    private static final int N_MINUS = 0, N_ZERO = 1, N_INT = 2, N_DOT = 3, N_FRAC = 4, N_E = 5, N_ESIGN = 6, N_EXP = 7;
    private static final String[] LITERALS = {"true", "false", "null"};
    private static final int MAX_DEPTH = 48, MAX_WS = 24;

    /** The automaton state: small enough to copy per candidate token. */
    static final class State {
        int mode = ROOT;
        long objects;      // bit d set = the container at depth d is an object
        int depth;
        boolean key;       // the string being read is an object key
        int sub;           // number sub-state, literal index, or \\u digit count
        int litPos;
        int ws;            // consecutive whitespace bytes, bounded so the model cannot pad forever

        State copy() {
            State s = new State();
            s.mode = mode;
            s.objects = objects;
            s.depth = depth;
            s.key = key;
            s.sub = sub;
            s.litPos = litPos;
            s.ws = ws;
            return s;
        }

        void set(State o) {
            mode = o.mode;
            objects = o.objects;
            depth = o.depth;
            key = o.key;
            sub = o.sub;
            litPos = o.litPos;
            ws = o.ws;
        }

        /** Feeds one byte; false when JSON cannot continue with it. */
        boolean feed(int c) {
            switch (mode) {
                case STRING -> {
                    if (c == '"') {
                        mode = key ? COLON : AFTER;
                        ws = 0;
                        return true;
                    }
                    if (c == '\\') {
                        mode = ESCAPE;
                        return true;
                    }
                    return c >= 0x20;
                }
                case ESCAPE -> {
                    if (c == 'u') {
                        mode = UNICODE;
                        sub = 0;
                        return true;
                    }
                    if ("\"\\/bfnrt".indexOf(c) >= 0) {
                        mode = STRING;
                        return true;
                    }
                    return false;
                }
                case UNICODE -> {
                    if (Character.digit(c, 16) < 0) return false;
                    if (++sub == 4) mode = STRING;
                    return true;
                }
                case NUMBER -> {
                    if (number(c)) return true;
                    // A number ends at the first byte that cannot extend it: only in a complete number.
                    if (sub == N_MINUS || sub == N_DOT || sub == N_E || sub == N_ESIGN) return false;
                    mode = AFTER;
                    ws = 0;
                    return feed(c);
                }
                case LITERAL -> {
                    String lit = LITERALS[sub];
                    if (c != lit.charAt(litPos)) return false;
                    if (++litPos == lit.length()) {
                        mode = AFTER;
                        ws = 0;
                    }
                    return true;
                }
                case DONE -> {
                    return false;
                }
                default -> {
                    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') return ++ws <= MAX_WS;
                    ws = 0;
                    return structural(c);
                }
            }
        }

        private boolean structural(int c) {
            switch (mode) {
                case ROOT -> {
                    return c == '{' && open(true);
                }
                case OBJ_FIRST, OBJ_KEY -> {
                    if (c == '"') {
                        mode = STRING;
                        key = true;
                        return true;
                    }
                    return mode == OBJ_FIRST && c == '}' && close(true);
                }
                case COLON -> {
                    if (c != ':') return false;
                    mode = VALUE;
                    return true;
                }
                case AFTER -> {
                    boolean inObject = depth > 0 && (objects >>> (depth - 1) & 1) == 1;
                    if (c == ',') {
                        mode = inObject ? OBJ_KEY : VALUE;
                        return true;
                    }
                    return inObject ? c == '}' && close(true) : c == ']' && close(false);
                }
                case VALUE, ARR_FIRST -> {
                    if (mode == ARR_FIRST && c == ']') return close(false);
                    return value(c);
                }
                default -> {
                    return false;
                }
            }
        }

        private boolean value(int c) {
            if (c == '{') return open(true);
            if (c == '[') return open(false);
            if (c == '"') {
                mode = STRING;
                key = false;
                return true;
            }
            if (c == '-' || (c >= '0' && c <= '9')) {
                mode = NUMBER;
                sub = c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
                return true;
            }
            for (int i = 0; i < LITERALS.length; i++) {
                if (c == LITERALS[i].charAt(0)) {
                    mode = LITERAL;
                    sub = i;
                    litPos = 1;
                    return true;
                }
            }
            return false;
        }

        private boolean number(int c) {
            boolean digit = c >= '0' && c <= '9';
            switch (sub) {
                case N_MINUS -> {
                    if (!digit) return false;
                    sub = c == '0' ? N_ZERO : N_INT;
                }
                case N_ZERO -> {
                    if (c == '.') sub = N_DOT;
                    else if (c == 'e' || c == 'E') sub = N_E;
                    else return false;
                }
                case N_INT -> {
                    if (c == '.') sub = N_DOT;
                    else if (c == 'e' || c == 'E') sub = N_E;
                    else if (!digit) return false;
                }
                case N_DOT -> {
                    if (!digit) return false;
                    sub = N_FRAC;
                }
                case N_FRAC -> {
                    if (c == 'e' || c == 'E') sub = N_E;
                    else if (!digit) return false;
                }
                case N_E -> {
                    if (c == '+' || c == '-') sub = N_ESIGN;
                    else if (digit) sub = N_EXP;
                    else return false;
                }
                case N_ESIGN -> {
                    if (!digit) return false;
                    sub = N_EXP;
                }
                default -> {
                    if (!digit) return false;
                }
            }
            return true;
        }

        private boolean open(boolean object) {
            if (depth >= MAX_DEPTH) return false;
            if (object) objects |= 1L << depth;
            else objects &= ~(1L << depth);
            depth++;
            mode = object ? OBJ_FIRST : ARR_FIRST;
            return true;
        }

        private boolean close(boolean object) {
            if (depth == 0) return false;
            depth--;
            mode = depth == 0 ? DONE : AFTER;
            return true;
        }

        boolean done() {
            return mode == DONE;
        }
    }

    private final Vocab vocab;
    private final State state = new State();
    private final State scratch = new State();
    private final boolean[] firstByteOk = new boolean[256];

    public JsonConstraint(Vocab vocab) {
        this.vocab = vocab;
    }

    /** Whether the text so far is a complete JSON object. */
    public boolean complete() {
        return state.done();
    }

    @Override
    public void mask(float[] logits, int n) {
        int limit = Math.min(n, vocab.bytes.length);
        boolean done = state.done();
        boolean inString = state.mode == STRING;
        if (!done && !inString) {
            for (int b = 0; b < 256; b++) {
                scratch.set(state);
                firstByteOk[b] = scratch.feed(b);
            }
        }
        int allowed = 0;
        for (int id = 0; id < limit; id++) {
            boolean ok;
            if (done) ok = vocab.endOfTurn[id];
            else if (!vocab.usable[id]) ok = false;
            else if (inString && vocab.plain[id]) ok = true;
            else if (!inString && !firstByteOk[vocab.bytes[id][0] & 0xff]) ok = false;
            else ok = accepts(vocab.bytes[id]);
            if (ok) allowed++;
            else logits[id] = Float.NEGATIVE_INFINITY;
        }
        for (int id = limit; id < n; id++) logits[id] = Float.NEGATIVE_INFINITY;
        if (allowed == 0) throw new IllegalStateException("JSON mode: no token can continue the answer");
    }

    private boolean accepts(byte[] b) {
        scratch.set(state);
        for (byte x : b) if (!scratch.feed(x & 0xff)) return false;
        return true;
    }

    @Override
    public void accept(int id) {
        if (id < 0 || id >= vocab.bytes.length || vocab.endOfTurn[id]) return;
        for (byte x : vocab.bytes[id]) state.feed(x & 0xff);
    }

    /** Checks a whole text with the same automaton (tests use it): -1 if it is a valid prefix, else the bad offset. */
    public static int firstError(String text) {
        State s = new State();
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) if (!s.feed(b[i] & 0xff)) return i;
        return -1;
    }

    /** Whether a whole text is one complete JSON object by this automaton. */
    public static boolean isCompleteObject(String text) {
        State s = new State();
        for (byte x : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) if (!s.feed(x & 0xff)) return false;
        return s.done();
    }
}
