package dev.jemma.core.media3n;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Tensor look-up in a Gemma 3n mmproj (llama.cpp names: {@code a.*} / {@code mm.a.*} audio, {@code v.*} / {@code mm.*}
 * vision; the fixture manifest's {@code mmproj_tensor_to_hf} maps each to its HF parameter). Every shape is checked,
 * and every error names the file and the tensor. ggml lists dimensions innermost first: a linear layer's weight is
 * {@code [in, out]}.
 */
public final class MmprojWeights {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private final GgufFile file;

    public MmprojWeights(GgufFile file) {
        this.file = file;
    }

    public GgufFile file() {
        return file;
    }

    public boolean has(String name) {
        return file.tensor(name) != null;
    }

    public GgufTensorInfo info(String name) {
        GgufTensorInfo t = file.tensor(name);
        if (t == null) throw file.error("missing tensor " + name);
        if (!Formats.isSupported(t.type())) throw file.error("tensor " + name + ": type " + t.type() + " is not supported");
        return t;
    }

    /** ggml dimensions of a tensor (innermost first). */
    public long[] dims(String name) {
        return info(name).dims();
    }

    /** A linear layer's weight: {@code out} rows of {@code in} weights (ggml dims {@code [in, out]}), zero-copy. */
    public WeightMatrix matrix(String name, int in, int out) {
        GgufTensorInfo t = info(name);
        long[] d = t.dims();
        if (d.length != 2 || d[0] != in || d[1] != out) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(d) + ", expected [" + in + ", " + out + "]");
        }
        return file.matrix(t);
    }

    /**
     * A tensor of exactly {@code dims} viewed as {@code out} rows of {@code in} weights (a convolution kernel
     * {@code [kw, kh, cin, cout]} is one row of kw·kh·cin weights per output channel), zero-copy.
     */
    public WeightMatrix flattened(String name, long[] dims, int in, int out) {
        GgufTensorInfo t = info(name);
        if (!Arrays.equals(t.dims(), dims)) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected " + Arrays.toString(dims));
        }
        if (in % t.type().blockSize != 0) throw file.error("tensor " + name + ": rows of " + in + " weights do not fill " + t.type() + " blocks");
        return WeightMatrix.of(name, file.tensorData(t), t.type(), out, in);
    }

    /** A 1-D (or any) tensor of {@code n} elements, dequantized. */
    public float[] vector(String name, int n) {
        GgufTensorInfo t = info(name);
        if (t.elementCount() != n) throw file.error("tensor " + name + ": " + t.elementCount() + " elements, expected " + n);
        return all(t);
    }

    /** Every element of a tensor of exactly {@code dims}, dequantized, in storage order. */
    public float[] all(String name, long[] dims) {
        GgufTensorInfo t = info(name);
        if (!Arrays.equals(t.dims(), dims)) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected " + Arrays.toString(dims));
        }
        return all(t);
    }

    private float[] all(GgufTensorInfo t) {
        float[] out = new float[Math.toIntExact(t.elementCount())];
        Formats.of(t.type()).dequantize(file.tensorData(t), 0, out, 0, out.length);
        return out;
    }

    /** An F32 matrix of {@code rows} × {@code cols} from an array, in native memory like a file's tensors. */
    public static WeightMatrix f32(String name, float[] values, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(4L * values.length, 64);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(F32_LE, i, values[i]);
        return new WeightMatrix(name, seg, GgmlType.F32, rows, cols);
    }
}
