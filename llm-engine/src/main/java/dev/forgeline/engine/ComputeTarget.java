package dev.forgeline.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * Where the model runs and in which precision. {@link #auto()} takes the first CUDA device when
 * the PyTorch engine sees one, in float16, else the CPU in float32. (bfloat16 would be the
 * usual CUDA choice, but DJL 0.35.1's PyTorch bindings have no bfloat16 type; bf16 checkpoints
 * are widened on load.)
 */
public record ComputeTarget(Device device, DataType dtype) {

    public ComputeTarget {
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new IllegalArgumentException("dtype " + dtype + " is not supported; use float32 or float16");
        }
    }

    public static ComputeTarget cpu() {
        return new ComputeTarget(Device.cpu(), DataType.FLOAT32);
    }

    public static ComputeTarget auto() {
        if (Engine.getInstance().getGpuCount() > 0) {
            return new ComputeTarget(Device.gpu(0), DataType.FLOAT16);
        }
        return cpu();
    }

    /**
     * Parses settings such as device "auto", "cpu", "cuda", "cuda:1" and dtype "auto",
     * "float32"/"fp32", "float16"/"fp16"/"half".
     */
    public static ComputeTarget parse(String device, String dtype) {
        String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
        Device dev;
        if (d.equals("auto")) {
            dev = auto().device();
        } else if (d.equals("cpu")) {
            dev = Device.cpu();
        } else if (d.startsWith("cuda") || d.startsWith("gpu")) {
            int colon = d.indexOf(':');
            int index = colon < 0 ? 0 : Integer.parseInt(d.substring(colon + 1));
            if (Engine.getInstance().getGpuCount() <= index) {
                throw new IllegalArgumentException("device " + device + " requested but the engine sees "
                        + Engine.getInstance().getGpuCount() + " GPU(s)");
            }
            dev = Device.gpu(index);
        } else {
            throw new IllegalArgumentException("unknown device '" + device + "' (auto, cpu, cuda, cuda:N)");
        }
        String t = dtype == null ? "auto" : dtype.trim().toLowerCase(Locale.ROOT);
        DataType type = switch (t) {
            case "auto" -> dev.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
            case "float32", "fp32" -> DataType.FLOAT32;
            case "float16", "fp16", "half" -> DataType.FLOAT16;
            default -> throw new IllegalArgumentException("unknown dtype '" + dtype + "' (auto, float32, float16)");
        };
        return new ComputeTarget(dev, type);
    }
}
