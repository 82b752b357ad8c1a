package dev.jemma.core.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A 2-D weight in the file's own storage type: {@code rows} rows of {@code cols} weights, each row contiguous
 * (ggml's ne0 = cols). A zero-copy view over the mapping; dequantizes on the fly.
 */
public final class WeightMatrix {
    private final String name;
    private final MemorySegment data;
    private final GgmlType type;
    private final BlockFormat format;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private final MemorySegment interleaved;
    private final boolean residualRows;

    public WeightMatrix(String name, MemorySegment data, GgmlType type, int rows, int cols) {
        this(name, data, type, rows, cols, null, false);
    }

    private WeightMatrix(String name, MemorySegment data, GgmlType type, int rows, int cols, MemorySegment interleaved,
                         boolean residualRows) {
        this.interleaved = interleaved;
        this.residualRows = residualRows;
        this.name = name;
        this.data = data;
        this.type = type;
        this.format = Formats.of(type);
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = type.bytesFor(cols);
        if (rowBytes * rows > data.byteSize()) {
            throw new IllegalArgumentException(name + ": " + rows + "x" + cols + " " + type + " needs " + rowBytes * rows + " bytes, has " + data.byteSize());
        }
    }

    /**
     * This matrix with a second copy of its weights in {@link dev.jemma.core.tensor.kernels.Interleaved} layout, which
     * the default-mode matmul then reads instead of {@link #data()} (row lookups still read {@link #data()}).
     */
    public WeightMatrix withInterleaved(MemorySegment packed) {
        long need = dev.jemma.core.tensor.kernels.Interleaved.byteSize(type, rows, cols);
        if (packed.byteSize() < need) throw new IllegalArgumentException(name + ": interleaved copy has " + packed.byteSize() + " bytes, needs " + need);
        return new WeightMatrix(name, data, type, rows, cols, packed, residualRows);
    }

    /**
     * This matrix asking the int8 kernels for residual rows ({@link dev.jemma.core.tensor.kernels.QuantizedActivations}:
     * ~15-bit instead of 8-bit activations, twice the int8 work) in every call over it, whatever the process-wide
     * switches say. A property of the matrix rather than of the process, so that a model whose layers amplify activation
     * rounding (Gemma 3n) can ask for it while another model in the same process keeps plain int8.
     */
    public WeightMatrix withResidualRows() {
        return new WeightMatrix(name, data, type, rows, cols, interleaved, true);
    }

    /** Whether the int8 kernels quantize residual rows for every call over this matrix ({@link #withResidualRows}). */
    public boolean residualRows() {
        return residualRows;
    }

    /** The {@link dev.jemma.core.tensor.kernels.Interleaved} copy of the weights, or null. */
    public MemorySegment interleaved() {
        return interleaved;
    }

    /** A matrix over a file's tensor (see {@code GgufFile.matrix}); refuses dimensions past int range. */
    public static WeightMatrix of(String name, MemorySegment data, GgmlType type, long rows, long rowLength) {
        if (rows > Integer.MAX_VALUE || rowLength > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor " + name + " is too large");
        return new WeightMatrix(name, data, type, (int) rows, (int) rowLength);
    }

    public String name() {
        return name;
    }

    public MemorySegment data() {
        return data;
    }

    public GgmlType type() {
        return type;
    }

    public BlockFormat format() {
        return format;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public long rowBytes() {
        return rowBytes;
    }

    /** Byte offset of row {@code r} in {@link #data()}. */
    public long rowOffset(int r) {
        return rowBytes * r;
    }

    public void dequantizeRow(int r, float[] dst, int dstOffset) {
        if (interleaved != null) {
            // same values; reads the copy that the matmul keeps resident instead of faulting in the file's pages
            dev.jemma.core.tensor.kernels.Interleaved.dequantizeRow(type, interleaved, cols, r, dst, dstOffset);
            return;
        }
        format.dequantize(data, rowOffset(r), dst, dstOffset, cols);
    }

    /** Dequantizes {@code count} weights of row {@code r} starting at column {@code c0} (block-aligned). */
    public void dequantizeRowPart(int r, int c0, int count, float[] dst, int dstOffset) {
        format.dequantize(data, rowOffset(r) + type.bytesFor(c0), dst, dstOffset, count);
    }

    public float[] dequantizeAll() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) dequantizeRow(r, out, r * cols);
        return out;
    }

    @Override
    public String toString() {
        return name + " " + type + " [" + rows + " x " + cols + "]";
    }
}
