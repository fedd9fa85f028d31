package dev.forgeline.engine.weights;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.engine.ModelFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads tensors from a Hugging Face model folder: one {@code model.safetensors}, or shards
 * listed by {@code model.safetensors.index.json}. Files are memory-mapped and each tensor is
 * converted to the requested dtype on the manager's device when it is read, so a 16-bit
 * checkpoint never sits in memory twice.
 */
public final class SafetensorsReader implements AutoCloseable {

    /** One tensor's header entry; offsets are absolute within {@code file}. */
    public record Entry(String name, String dtype, long[] shape, Path file, long offset, long length) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Map<Path, FileChannel> channels = new LinkedHashMap<>();

    private SafetensorsReader(Map<String, Entry> entries, Map<String, String> metadata) {
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens a model folder (sharded or single file) or a single .safetensors file. */
    public static SafetensorsReader open(Path path) {
        Map<String, Entry> entries = new TreeMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        if (!Files.isDirectory(path)) {
            readHeader(path, entries, metadata);
            return new SafetensorsReader(entries, metadata);
        }
        Path index = path.resolve("model.safetensors.index.json");
        Path single = path.resolve("model.safetensors");
        if (Files.exists(index)) {
            JsonNode map;
            try {
                map = JSON.readTree(index.toFile()).path("weight_map");
            } catch (IOException e) {
                throw new ModelFormatException("cannot read " + index + ": " + e.getMessage(), e);
            }
            Set<String> shards = new java.util.TreeSet<>();
            map.fields().forEachRemaining(f -> shards.add(f.getValue().asText()));
            for (String shard : shards) {
                readHeader(path.resolve(shard), entries, metadata);
            }
            for (Iterator<String> it = map.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!entries.containsKey(name)) {
                    throw new ModelFormatException("index lists tensor '" + name + "' in "
                            + map.get(name).asText() + " but that shard does not contain it");
                }
            }
        } else if (Files.exists(single)) {
            readHeader(single, entries, metadata);
        } else {
            throw new ModelFormatException("no model.safetensors or model.safetensors.index.json in " + path);
        }
        return new SafetensorsReader(entries, metadata);
    }

    private static void readHeader(Path file, Map<String, Entry> entries, Map<String, String> metadata) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > 100_000_000L || headerLen + 8 > ch.size()) {
                throw new ModelFormatException(file + " is not a safetensors file (header length " + headerLen + ")");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonNode root = JSON.readTree(header.array());
            long dataStart = 8 + headerLen;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if ("__metadata__".equals(f.getKey())) {
                    f.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode t = f.getValue();
                long[] shape = new long[t.path("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.path("shape").get(i).asLong();
                }
                long begin = t.path("data_offsets").get(0).asLong();
                long end = t.path("data_offsets").get(1).asLong();
                String dtype = t.path("dtype").asText();
                long expected = Arrays.stream(shape).reduce(1, (a, b) -> a * b) * bytesOf(dtype, f.getKey());
                if (end - begin != expected || dataStart + end > ch.size()) {
                    throw new ModelFormatException("tensor '" + f.getKey() + "' in " + file + " has " + (end - begin)
                            + " bytes of data but dtype " + dtype + " and shape " + Arrays.toString(shape)
                            + " need " + expected);
                }
                entries.put(f.getKey(), new Entry(f.getKey(), dtype, shape, file, dataStart + begin, end - begin));
            }
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    static int bytesOf(String dtype, String tensor) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "F16", "BF16", "I16" -> 2;
            case "F64", "I64" -> 8;
            case "U8", "I8", "BOOL" -> 1;
            default -> throw new ModelFormatException("tensor '" + tensor + "' has unsupported dtype " + dtype);
        };
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException("missing tensor '" + name + "'");
        }
        return e;
    }

    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /**
     * Reads one tensor into {@code manager} (and its device) as {@code dtype}. F32, F16, BF16 and
     * F64 sources are accepted; the mapped bytes are copied once, by the dtype/device conversion.
     *
     * <p>DJL 0.35.1's PyTorch bindings have no bfloat16 type (creating or casting to one aborts
     * the process), so BF16 data is widened to float32 here, exactly (bf16 is the top half of
     * a float32), and {@code dtype} must be FLOAT32, FLOAT16 or FLOAT64. FLOAT64 is for
     * numerical checks (finite-difference gradients): widening any 16- or 32-bit source to it is
     * exact.
     */
    public NDArray read(String name, NDManager manager, DataType dtype) {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16 && dtype != DataType.FLOAT64) {
            throw new IllegalArgumentException("cannot load '" + name + "' as " + dtype
                    + ": the engine computes in float32, float16 or float64 (DJL's PyTorch bindings lack bfloat16)");
        }
        Entry e = entry(name);
        ByteBuffer bytes = map(e);
        DataType source = switch (e.dtype()) {
            case "F32" -> DataType.FLOAT32;
            case "F16" -> DataType.FLOAT16;
            case "F64" -> DataType.FLOAT64;
            case "BF16" -> {
                bytes = widenBfloat16(bytes);
                yield DataType.FLOAT32;
            }
            default -> throw new ModelFormatException(
                    "tensor '" + name + "' has dtype " + e.dtype() + "; only F32, F16, BF16 and F64 weights load");
        };
        // A CPU array made from a direct buffer aliases it, and the mapping is read-only: take a
        // private copy in the target dtype and on the target device before anything writes to it.
        try (NDManager scratch = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            NDArray view = scratch.create(bytes, new Shape(e.shape()), source);
            NDArray out = view.toDevice(manager.getDevice(), false).toType(dtype, false);
            if (out == view) {
                out = view.duplicate();
            }
            out.attach(manager);
            return out;
        }
    }

    /** bfloat16 -> float32 by appending 16 zero bits: exact. */
    static ByteBuffer widenBfloat16(ByteBuffer bf16) {
        ByteBuffer in = bf16.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocateDirect(in.remaining() * 2).order(ByteOrder.nativeOrder());
        java.nio.ShortBuffer s = in.asShortBuffer();
        java.nio.IntBuffer o = out.asIntBuffer();
        while (s.hasRemaining()) {
            o.put((s.get() & 0xFFFF) << 16);
        }
        return out;
    }

    private ByteBuffer map(Entry e) {
        try {
            FileChannel ch = channels.get(e.file());
            if (ch == null) {
                ch = FileChannel.open(e.file(), StandardOpenOption.READ);
                channels.put(e.file(), ch);
            }
            if (e.length() > Integer.MAX_VALUE) {
                throw new ModelFormatException("tensor '" + e.name() + "' is larger than 2 GiB");
            }
            return ch.map(FileChannel.MapMode.READ_ONLY, e.offset(), e.length()).order(ByteOrder.nativeOrder());
        } catch (IOException ex) {
            throw new ModelFormatException("cannot map tensor '" + e.name() + "' from " + e.file() + ": " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only channel: nothing to flush
            }
        }
        channels.clear();
    }
}
