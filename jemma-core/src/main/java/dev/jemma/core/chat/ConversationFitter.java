package dev.jemma.core.chat;

import dev.jemma.core.JemmaException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Drops a conversation's oldest turns (the system message stays) until its rendering fits the context with room for
 * an answer, in time linear in the conversation: each message is tokenized at most once, newest first, and the walk
 * stops as soon as the budget is spent, so a 5,000-message history costs what its last few kept turns cost. (Rendering
 * and tokenizing the whole conversation again after each dropped message made it quadratic: 170 s of CPU for 2,000
 * short messages.) The kept turns start at a non-assistant message, so roles keep alternating.
 *
 * <p>Per-message token counts are an estimate of the rendering's (content tokens plus the template's per-turn cost);
 * the chosen suffix is then rendered and tokenized once to check, and moved on by the overshoot when the estimate was
 * low, so the result is exact.
 */
public final class ConversationFitter {
    /** How a model renders and counts a prompt. */
    public interface Codec {
        /** The conversation rendered as the model reads it (contents protected, see {@code Tokenizer.protect}). */
        String render(List<ChatMessage> messages, boolean addGenerationPrompt);

        /** Token ids of a rendered prompt. */
        int[] encode(String rendered);

        /** Tokens of one message's content on its own. */
        int contentTokens(String content);

        /** The fewest tokens {@code text} can take, from its length alone (no tokenizing). */
        long minTokens(String text);
    }

    /** The turns that fit, their rendering and its tokens. */
    public record Fitted(List<ChatMessage> messages, String rendered, int[] tokens) {
    }

    private ConversationFitter() {
    }

    /**
     * Fits a conversation into {@code ctx} tokens leaving {@code reserve} for the answer; only the last turn may eat
     * into the reserve.
     *
     * @param cancelled polled between messages; true aborts with a {@link CancellationException}
     * @throws JemmaException when the last turn alone (with the system message) does not fit the context
     */
    public static Fitted fit(List<ChatMessage> msgs, int ctx, int reserve, Codec codec, BooleanSupplier cancelled) {
        int sys = !msgs.isEmpty() && msgs.getFirst().role().equals("system") ? 1 : 0;
        int last = msgs.size() - 1;
        int budget = ctx - reserve;
        // Refuse a last turn that cannot fit from its length alone, before tokenizing megabytes of it.
        long floor = 0;
        if (sys == 1) floor += codec.minTokens(msgs.getFirst().content());
        if (last >= sys) floor += codec.minTokens(msgs.get(last).content());
        if (floor >= ctx) {
            throw new JemmaException("the prompt is at least " + floor + " tokens (from its length alone) but the context holds " + ctx);
        }
        if (last - sys < 1) return exact(msgs, ctx, codec);
        long all = 0;
        for (ChatMessage m : msgs) all += codec.minTokens(m.content());
        if (all <= budget) {
            Fitted f = render(msgs, codec);
            if (f.tokens().length <= budget) return f;
        }
        if (cancelled.getAsBoolean()) throw new CancellationException();
        // Newest first: the estimated cost of every turn until the budget is spent, which gives a first guess.
        int overhead = turnOverhead(codec);
        long used = overhead;
        if (sys == 1) used += codec.contentTokens(msgs.getFirst().content().strip()) + overhead;
        used += codec.contentTokens(msgs.get(last).content().strip()) + overhead;
        int guess = last;
        for (int i = last - 1; i > sys; i--) {
            if (cancelled.getAsBoolean()) throw new CancellationException();
            String c = msgs.get(i).content().strip();
            if (used + codec.minTokens(c) + overhead > budget) break;
            used += codec.contentTokens(c) + overhead;
            if (used > budget) break;
            if (!msgs.get(i).role().equals("assistant")) guess = i;
        }
        // The exact answer: the oldest start (a non-assistant turn after the system message) whose rendering fits,
        // searched from the guess with real renderings. Fewer turns never render longer, so the search is monotone;
        // a start whose length alone cannot fit is rejected without rendering, so each rendering is bounded by the
        // context, not the conversation.
        List<Integer> starts = new ArrayList<>();
        for (int i = sys + 1; i < last; i++) if (!msgs.get(i).role().equals("assistant")) starts.add(i);
        starts.add(last);
        long[] floorFrom = new long[msgs.size() + 1];
        for (int i = last; i >= 0; i--) floorFrom[i] = floorFrom[i + 1] + codec.minTokens(msgs.get(i).content());
        long sysFloor = sys == 1 ? floorFrom[0] - floorFrom[1] : 0;
        Probe probe = new Probe(msgs, sys, budget, codec, cancelled, floorFrom, sysFloor);
        int g = java.util.Collections.binarySearch(starts, guess);
        if (g < 0) g = starts.size() - 1;
        // gallop towards older starts while they fit, towards newer ones while they do not, then bisect
        int lo, hi; // starts.get(lo) does not fit (or lo = -1), starts.get(hi) fits (or hi = starts.size())
        if (probe.fits(starts.get(g))) {
            hi = g;
            int step = 1;
            lo = g - step;
            while (lo >= 0 && probe.fits(starts.get(lo))) {
                hi = lo;
                step *= 2;
                lo = hi - step;
            }
            lo = Math.max(lo, -1);
        } else {
            lo = g;
            int step = 1;
            hi = g + step;
            while (hi < starts.size() && !probe.fits(starts.get(hi))) {
                lo = hi;
                step *= 2;
                hi = lo + step;
            }
            hi = Math.min(hi, starts.size());
        }
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (probe.fits(starts.get(mid))) hi = mid;
            else lo = mid;
        }
        if (hi == starts.size()) {
            // not even the last turn fits the budget: it may use the answer's reserve, not more
            Fitted f = render(kept(msgs, sys, last), codec);
            if (f.tokens().length >= ctx) {
                throw new JemmaException("the prompt is " + f.tokens().length + " tokens but the context holds " + ctx);
            }
            return f;
        }
        return probe.fitted(starts.get(hi));
    }

    /** Renders candidate suffixes, remembering each one's result. */
    private static final class Probe {
        private final List<ChatMessage> msgs;
        private final int sys, budget;
        private final Codec codec;
        private final BooleanSupplier cancelled;
        private final long[] floorFrom;
        private final long sysFloor;
        private final java.util.Map<Integer, Fitted> seen = new java.util.HashMap<>();

        Probe(List<ChatMessage> msgs, int sys, int budget, Codec codec, BooleanSupplier cancelled, long[] floorFrom, long sysFloor) {
            this.msgs = msgs;
            this.sys = sys;
            this.budget = budget;
            this.codec = codec;
            this.cancelled = cancelled;
            this.floorFrom = floorFrom;
            this.sysFloor = sysFloor;
        }

        boolean fits(int start) {
            if (sysFloor + floorFrom[start] > budget) return false;
            return fitted(start).tokens().length <= budget;
        }

        Fitted fitted(int start) {
            Fitted f = seen.get(start);
            if (f == null) {
                if (cancelled.getAsBoolean()) throw new CancellationException();
                f = render(kept(msgs, sys, start), codec);
                seen.put(start, f);
            }
            return f;
        }
    }

    private static Fitted exact(List<ChatMessage> msgs, int ctx, Codec codec) {
        Fitted f = render(msgs, codec);
        if (f.tokens().length >= ctx) {
            throw new JemmaException("the prompt is " + f.tokens().length + " tokens but the context holds " + ctx);
        }
        return f;
    }

    private static Fitted render(List<ChatMessage> msgs, Codec codec) {
        String text = codec.render(msgs, true);
        return new Fitted(List.copyOf(msgs), text, codec.encode(text));
    }

    private static List<ChatMessage> kept(List<ChatMessage> msgs, int sys, int start) {
        List<ChatMessage> k = new ArrayList<>(msgs.size() - start + sys);
        if (sys == 1) k.add(msgs.getFirst());
        k.addAll(msgs.subList(start, msgs.size()));
        return k;
    }

    /** Tokens a turn costs beyond its content (role markers, separators), from a one-turn rendering. */
    private static int turnOverhead(Codec codec) {
        try {
            int[] one = codec.encode(codec.render(List.of(ChatMessage.user("x")), false));
            return Math.max(0, one.length - codec.contentTokens("x"));
        } catch (RuntimeException e) {
            return 0; // a template that refuses a lone user turn: the check below still makes the result exact
        }
    }
}
