package dev.jemma.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The Gemma 3 vision fixtures in ../shared/fixtures/multimodal (see its README.md): skipped like {@link Fixtures#shared()}. */
public final class MultimodalFixtures {
    public static final String MODEL = "gemma3-vision-tiny";

    private MultimodalFixtures() {
    }

    public static Path root() {
        return Fixtures.shared().resolve("multimodal");
    }

    private static JsonNode manifest;

    /** The parsed manifest (it holds -Infinity / NaN figures, which plain JSON does not allow). */
    public static synchronized JsonNode manifest() {
        if (manifest == null) {
            try {
                ObjectMapper om = new ObjectMapper();
                om.enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS.mappedFeature());
                manifest = om.readTree(root().resolve("manifest.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return manifest;
    }

    public static JsonNode model() {
        return manifest().get("models").get(MODEL);
    }

    /** The Gemma 3n fixture model (audio + MobileNet-V5 vision, one mmproj). */
    public static final String GEMMA3N = "gemma3n-mm-tiny";

    public static JsonNode model(String name) {
        return manifest().get("models").get(name);
    }

    /** A Gemma 3n case ("audio", "image"). */
    public static JsonNode gemma3nCase(String name) {
        return model(GEMMA3N).get("cases").get(name);
    }

    public static JsonNode tolerances() {
        return manifest().get("tolerances");
    }

    /** "case/variant" for every Gemma 3 case and variant in the manifest. */
    public static List<String> caseVariants() {
        List<String> out = new ArrayList<>();
        if (!Fixtures.sharedAvailable()) return List.of("square/F32");
        model().get("cases").fields().forEachRemaining(c ->
                c.getValue().get("variants").fieldNames().forEachRemaining(v -> out.add(c.getKey() + "/" + v)));
        return out;
    }

    public static JsonNode caseNode(String caseVariant) {
        return model().get("cases").get(caseVariant.split("/")[0]);
    }

    public static JsonNode variant(String caseVariant) {
        String[] p = caseVariant.split("/");
        return model().get("cases").get(p[0]).get("variants").get(p[1]);
    }

    public static Path file(String rel) {
        return root().resolve(rel);
    }

    public static float[] f32(String rel) {
        return Fixtures.readF32(file(rel));
    }

    public static double maxAbs(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("size mismatch: " + a.length + " vs " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            if (!(d <= m)) m = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
        }
        return m;
    }

    public static double relL2(float[] ref, float[] got) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = ref[i] - got[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}
