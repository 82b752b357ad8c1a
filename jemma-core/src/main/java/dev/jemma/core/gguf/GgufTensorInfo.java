package dev.jemma.core.gguf;

import dev.jemma.core.tensor.GgmlType;

import java.util.Arrays;

/**
 * One tensor's description. {@code dims[0]} is the row length (ggml's ne0); {@code offset} is relative to the start
 * of the tensor data section; {@code byteSize} is validated against the file when the file is opened.
 */
public record GgufTensorInfo(String name, long[] dims, GgmlType type, long offset, long byteSize) {
    public long elementCount() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    /** Number of rows when viewed as a matrix of rows of length dims[0]. */
    public long rows() {
        return elementCount() / dims[0];
    }

    public long rowLength() {
        return dims[0];
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims);
    }
}
