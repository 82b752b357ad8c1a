package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.SamplerSetting;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Typed, validated access to request JSON fields: a wrong type is a 400 naming the field. */
final class Params {
    private Params() {
    }

    static String string(JsonNode o, String field, String dflt) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw HttpError.badRequest("field '" + field + "' must be a string");
        return n.asText();
    }

    static String requiredString(JsonNode o, String field) {
        String s = string(o, field, null);
        if (s == null || s.isBlank()) throw HttpError.badRequest("field '" + field + "' is required");
        return s;
    }

    static boolean bool(JsonNode o, String field, boolean dflt) {
        return bool(o, "", field, dflt);
    }

    /**
     * {@code field} of {@code o}, named {@code prefix + field} in errors: the name as the client sent it, such as
     * {@code options.seed} inside Ollama's {@code options}. The same for the methods below that take a prefix.
     */
    static boolean bool(JsonNode o, String prefix, String field, boolean dflt) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw HttpError.badRequest("field '" + prefix + field + "' must be true or false");
        return n.asBoolean();
    }

    static Integer integer(JsonNode o, String field, Integer dflt) {
        return integer(o, "", field, dflt);
    }

    static Integer integer(JsonNode o, String prefix, String field, Integer dflt) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber() || (n.isFloatingPointNumber() && n.asDouble() != Math.rint(n.asDouble()))) {
            throw HttpError.badRequest("field '" + prefix + field + "' must be an integer");
        }
        if (!n.canConvertToInt()) throw HttpError.badRequest("field '" + prefix + field + "' is out of range");
        return n.asInt();
    }

    static Long longValue(JsonNode o, String field, Long dflt) {
        return longValue(o, "", field, dflt);
    }

    /**
     * A 64-bit integer field (the seed). A whole number written as a float (42.0, 1e3, -1.0, as Python clients send
     * them) is taken, as {@link #integer} takes it for the int settings and as Ollama and llama-server do.
     */
    static Long longValue(JsonNode o, String prefix, String field, Long dflt) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber() || (n.isFloatingPointNumber() && n.asDouble() != Math.rint(n.asDouble()))) {
            throw HttpError.badRequest("field '" + prefix + field + "' must be an integer");
        }
        boolean fits = n.isFloatingPointNumber() ? n.asDouble() >= -0x1p63 && n.asDouble() < 0x1p63 : n.canConvertToLong();
        if (!fits) throw HttpError.badRequest("field '" + prefix + field + "' is out of range (a 64-bit integer)");
        return n.isFloatingPointNumber() ? (long) n.asDouble() : n.asLong();
    }

    static Float number(JsonNode o, String field, Float dflt, double min, double max) {
        return number(o, "", field, dflt, min, max);
    }

    static Float number(JsonNode o, String prefix, String field, Float dflt, double min, double max) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw HttpError.badRequest("field '" + prefix + field + "' must be a number");
        double v = n.asDouble();
        if (!(v >= min && v <= max)) throw HttpError.badRequest("field '" + prefix + field + "' must be between " + min + " and " + max);
        return (float) v;
    }

    /**
     * The sampling setting {@code s} of {@code o} (null when absent), checked against the one range table: a wrong type
     * or a value out of range is a 400 naming the field as sent ({@code prefix + name}) and the value. The value is
     * checked as the float the engine gets, as the CLI's flags are (and llama.cpp reads them): a repeat penalty of
     * 1e-50 is 0 there, so it must be refused here, by name, not by the engine.
     */
    static Float setting(JsonNode o, String prefix, SamplerSetting s) {
        JsonNode n = o.get(s.apiName());
        if (n == null || n.isNull()) return null;
        if (!n.isNumber()) throw HttpError.badRequest("field '" + prefix + s.apiName() + "' must be a number");
        float v = (float) n.asDouble();
        if (!s.accepts(v)) throw outOfRange(prefix, s, n);
        return v;
    }

    /** {@link #setting(JsonNode, String, SamplerSetting)} for a whole-number setting. */
    static Integer intSetting(JsonNode o, String prefix, SamplerSetting s) {
        Integer v = integer(o, prefix, s.apiName(), null);
        if (v != null && !s.accepts(v)) throw outOfRange(prefix, s, o.get(s.apiName()));
        return v;
    }

    static HttpError outOfRange(String prefix, SamplerSetting s, JsonNode sent) {
        return HttpError.badRequest("field '" + prefix + s.apiName() + "' must be " + s.rule() + ", got " + sent);
    }

    /** A string or an array of strings (OpenAI's and Ollama's {@code stop}). */
    static List<String> stringList(JsonNode o, String field) {
        return stringList(o, "", field);
    }

    static List<String> stringList(JsonNode o, String prefix, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) return List.of();
        if (n.isTextual()) return List.of(n.asText());
        if (!n.isArray()) throw HttpError.badRequest("field '" + prefix + field + "' must be a string or an array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) throw HttpError.badRequest("field '" + prefix + field + "' must contain only strings");
            out.add(e.asText());
        }
        if (out.size() > 16) throw HttpError.badRequest("field '" + prefix + field + "': at most 16 stop strings");
        return out;
    }

    private static final Pattern DURATION = Pattern.compile("(-?\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

    /**
     * Ollama's keep_alive: a number of seconds or a Go duration ("5m", "1h30m", "-1"); null when absent. Negative
     * means forever.
     */
    static Duration keepAlive(JsonNode o) {
        JsonNode n = o.get("keep_alive");
        if (n == null || n.isNull()) return null;
        if (n.isNumber()) return seconds(n.asDouble());
        if (!n.isTextual()) throw HttpError.badRequest("field 'keep_alive' must be a duration such as \"5m\" or a number of seconds");
        String s = n.asText().strip();
        if (s.matches("-?\\d+(\\.\\d+)?")) return seconds(Double.parseDouble(s));
        Matcher m = DURATION.matcher(s);
        double total = 0;
        int end = 0;
        boolean neg = s.startsWith("-");
        while (m.find()) {
            if (m.start() != end) break;
            double v = Math.abs(Double.parseDouble(m.group(1)));
            total += v * switch (m.group(2)) {
                case "ns" -> 1e-9;
                case "us", "µs" -> 1e-6;
                case "ms" -> 1e-3;
                case "s" -> 1;
                case "m" -> 60;
                default -> 3600;
            };
            end = m.end();
        }
        if (end != s.length() || s.isEmpty()) {
            throw HttpError.badRequest("field 'keep_alive': cannot parse duration '" + s + "'");
        }
        return seconds(neg ? -total : total);
    }

    private static Duration seconds(double s) {
        if (s < 0) return Duration.ofSeconds(-1);
        return Duration.ofMillis((long) (s * 1000));
    }
}
