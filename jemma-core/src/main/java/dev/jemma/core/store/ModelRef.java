package dev.jemma.core.store;

import dev.jemma.core.JemmaException;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A validated model name: either a short name from {@link ModelCatalog} ({@code gemma3:4b}) or a Hugging Face
 * reference {@code hf.co/ORG/REPO[:QUANT]} (also accepted: {@code huggingface.co/…} and
 * {@code https://huggingface.co/…}). Every component is checked against a strict character set, so a name can
 * never escape the store directory ({@code ..}, slashes, backslashes and control characters are refused).
 *
 * @param name  the canonical name: {@code gemma3:4b} or {@code hf.co/ORG/REPO:TAG}
 * @param repo  {@code ORG/REPO} on the hub
 * @param quant the quantization tag matched against file names, or {@code null} to pick the repository's default
 */
public record ModelRef(String name, String repo, String quant) {
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,95}");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** Parses and validates a model name; throws {@link JemmaException} naming the problem. */
    public static ModelRef parse(String raw) {
        if (raw == null || raw.isBlank()) throw new JemmaException("empty model name");
        String s = raw.strip();
        var short_ = ModelCatalog.lookup(s);
        if (short_.isPresent()) {
            var e = short_.get();
            return new ModelRef(e.shortName(), e.repo(), e.quant());
        }
        String lower = s.toLowerCase(Locale.ROOT);
        String rest = null;
        for (String prefix : new String[]{"https://huggingface.co/", "https://hf.co/", "huggingface.co/", "hf.co/"}) {
            if (lower.startsWith(prefix)) {
                rest = s.substring(prefix.length());
                break;
            }
        }
        if (rest == null) {
            throw new JemmaException("unknown model name '" + printable(s) + "': use a short name (" + shortNames()
                    + ") or hf.co/ORG/REPO[:QUANT]");
        }
        String tag = null;
        int colon = rest.indexOf(':');
        if (colon >= 0) {
            tag = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
        }
        String[] parts = rest.split("/", -1);
        if (parts.length != 2) {
            throw new JemmaException("invalid model name '" + printable(s) + "': expected hf.co/ORG/REPO[:QUANT]");
        }
        for (String p : parts) checkPart(s, p, PART, "repository part");
        String quant = null;
        if (tag != null && !tag.equalsIgnoreCase("latest")) {
            checkPart(s, tag, TAG, "quantization tag");
            quant = tag;
        }
        String repo = parts[0] + "/" + parts[1];
        return new ModelRef("hf.co/" + repo + ":" + (quant == null ? "latest" : quant), repo, quant);
    }

    /** True when the string parses as a model name (no exception). */
    public static boolean isValid(String raw) {
        try {
            parse(raw);
            return true;
        } catch (JemmaException e) {
            return false;
        }
    }

    /** The manifest's path below the store's manifests directory, e.g. {@code hf.co/ORG/REPO/TAG.json}. */
    String manifestPath() {
        if (name.startsWith("hf.co/")) {
            String tag = name.substring(name.lastIndexOf(':') + 1);
            return "hf.co/" + repo + "/" + tag + ".json";
        }
        int colon = name.indexOf(':');
        return "library/" + name.substring(0, colon) + "/" + name.substring(colon + 1) + ".json";
    }

    private static void checkPart(String whole, String part, Pattern p, String what) {
        if (!p.matcher(part).matches() || part.contains("..")) {
            throw new JemmaException("invalid model name '" + printable(whole) + "': bad " + what + " '"
                    + printable(part) + "' (letters, digits, '.', '_', '-' only)");
        }
    }

    private static String shortNames() {
        StringBuilder sb = new StringBuilder();
        for (var e : ModelCatalog.entries()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(e.shortName());
        }
        return sb.toString();
    }

    /** Escapes control characters so a hostile name cannot garble the terminal or a log line. */
    public static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        int n = Math.min(s.length(), 200);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        if (s.length() > n) sb.append('…');
        return sb.toString();
    }
}
