package dev.forgeline.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes safetensors files: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data. Tensor bytes are
 * pulled one at a time from a supplier so that a model larger than the heap can be written.
 */
public final class SafetensorsWriter {

    /** A tensor to write; {@code data} is called once, when its turn comes. */
    public record Tensor(String name, DataType dtype, long[] shape, Supplier<ByteBuffer> data) {
        long bytes() {
            long n = dtype.getNumOfBytes();
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    public static Tensor of(String name, NDArray array) {
        return new Tensor(name, array.getDataType(), array.getShape().getShape(), array::toByteBuffer);
    }

    /**
     * A float32 array written as bfloat16 (round to nearest even) or float16: the way to store
     * a checkpoint in 16 bits, since DJL's PyTorch bindings have no bfloat16 arrays.
     */
    public static Tensor of(String name, NDArray array, DataType fileType) {
        if (fileType == array.getDataType()) {
            return of(name, array);
        }
        if (fileType == DataType.FLOAT16) {
            return new Tensor(name, fileType, array.getShape().getShape(),
                    () -> array.toType(DataType.FLOAT16, false).toByteBuffer());
        }
        if (fileType != DataType.BFLOAT16) {
            throw new IllegalArgumentException("cannot write " + array.getDataType() + " as " + fileType);
        }
        return new Tensor(name, fileType, array.getShape().getShape(), () -> {
            float[] v = array.toType(DataType.FLOAT32, false).toFloatArray();
            ByteBuffer out = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                int bits = Float.floatToRawIntBits(f);
                out.putShort((short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
            }
            return out.flip();
        });
    }

    public static void write(Path file, Map<String, NDArray> arrays, Map<String, String> metadata) {
        List<Tensor> tensors = new ArrayList<>();
        arrays.forEach((name, a) -> tensors.add(of(name, a)));
        write(file, tensors, metadata);
    }

    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Tensor t : tensors) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", code(t.dtype()));
            var shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            var offsets = e.putArray("data_offsets");
            offsets.add(offset);
            offsets.add(offset + t.bytes());
            offset += t.bytes();
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // The spec pads the header with spaces so that tensor data starts 8-byte aligned.
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, head);
                for (Tensor t : tensors) {
                    ByteBuffer data = t.data().get();
                    if (data.remaining() != t.bytes()) {
                        throw new IllegalArgumentException("tensor '" + t.name() + "' supplied " + data.remaining()
                                + " bytes, its dtype and shape need " + t.bytes());
                    }
                    writeFully(ch, data);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes shards of at most {@code maxShardBytes} (a tensor is never split) plus
     * {@code model.safetensors.index.json}, the layout transformers uses for large models.
     */
    public static void writeSharded(Path dir, List<Tensor> tensors, long maxShardBytes, Map<String, String> metadata) {
        List<List<Tensor>> shards = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long size = 0;
        long total = 0;
        for (Tensor t : tensors) {
            if (!current.isEmpty() && size + t.bytes() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.bytes();
            total += t.bytes();
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            write(dir.resolve(name), shards.get(i), metadata);
            for (Tensor t : shards.get(i)) {
                weightMap.put(t.name(), name);
            }
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach(map::put);
        try {
            Files.writeString(dir.resolve("model.safetensors.index.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String code(DataType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case FLOAT64 -> "F64";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOLEAN -> "BOOL";
            default -> throw new IllegalArgumentException("no safetensors dtype for " + dtype);
        };
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        buf = buf.duplicate();
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
