package dev.jemma.core.vision;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** Looks the vision tower's tensors up by name and checks their shapes, with errors naming the file and tensor. */
final class VisionWeights {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private final GgufFile file;

    VisionWeights(GgufFile file) {
        this.file = file;
    }

    private GgufTensorInfo info(String name) {
        GgufTensorInfo t = file.tensor(name);
        if (t == null) throw file.error("missing vision tensor " + name);
        if (!Formats.isSupported(t.type())) throw file.error("tensor " + name + ": type " + t.type() + " is not supported");
        return t;
    }

    /** A linear layer's weight, {@code out} rows of {@code in} weights (ggml dims {in, out}). */
    WeightMatrix matrix(String name, int in, int out) {
        GgufTensorInfo t = info(name);
        long[] d = t.dims();
        if (d.length < 2 || d[0] != in || t.rows() != out) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(d) + ", expected [" + in + ", " + out + "]");
        }
        return file.matrix(t);
    }

    /**
     * A tensor viewed as {@code out} rows of {@code in} weights whatever its dimensions (a convolution kernel
     * [kw, kh, c, out] is one row of kw·kh·c weights per output channel).
     */
    WeightMatrix flattened(String name, long[] dims, int in, int out) {
        GgufTensorInfo t = info(name);
        if (!Arrays.equals(t.dims(), dims)) throw file.error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected " + Arrays.toString(dims));
        if (in % t.type().blockSize != 0) {
            throw file.error("tensor " + name + ": rows of " + in + " weights do not fill " + t.type() + " blocks");
        }
        return WeightMatrix.of(name, file.tensorData(t), t.type(), out, in);
    }

    float[] vector(String name, int n) {
        GgufTensorInfo t = info(name);
        if (t.elementCount() != n) throw file.error("tensor " + name + ": " + t.elementCount() + " elements, expected " + n);
        return all(t);
    }

    /** Every element of a tensor, dequantized, in storage order. */
    float[] all(String name, long elements) {
        GgufTensorInfo t = info(name);
        if (t.elementCount() != elements) throw file.error("tensor " + name + ": " + t.elementCount() + " elements, expected " + elements);
        return all(t);
    }

    long[] dims(String name) {
        return info(name).dims();
    }

    private float[] all(GgufTensorInfo t) {
        float[] out = new float[Math.toIntExact(t.elementCount())];
        Formats.of(t.type()).dequantize(file.tensorData(t), 0, out, 0, out.length);
        return out;
    }

    /** An F32 matrix of {@code rows} × {@code cols} floats from an array, in native memory like a file's tensors. */
    static WeightMatrix f32(String name, float[] values, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(4L * values.length, 64);
        for (int i = 0; i < values.length; i++) seg.setAtIndex(F32_LE, i, values[i]);
        return new WeightMatrix(name, seg, GgmlType.F32, rows, cols);
    }
}
