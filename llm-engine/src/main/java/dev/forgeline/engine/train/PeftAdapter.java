package dev.forgeline.engine.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.engine.ModelFormatException;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.Linear;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.weights.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A LoRA adapter in PEFT layout, as {@link ModelExport#writeAdapter} writes it and peft's
 * {@code save_pretrained} does: adapter_config.json and adapter_model.safetensors with
 * {@code base_model.model.<module>.lora_A.weight} (r, in) and {@code lora_B.weight} (out, r).
 * Attached as {@link LoraAdapter}s, so the scale alpha / r is the code training uses. Only plain
 * LoRA is read; the variants that change the update (DoRA, rsLoRA, per-module ranks or alphas,
 * fully trained modules, trained biases) are refused by name rather than merged wrongly.
 */
public final class PeftAdapter {

    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";

    private final Path dir;
    private final String baseModel; // base_model_name_or_path, or null
    private final int rank;
    private final double alpha;

    private PeftAdapter(Path dir, String baseModel, int rank, double alpha) {
        this.dir = dir;
        this.baseModel = baseModel;
        this.rank = rank;
        this.alpha = alpha;
    }

    /** Whether {@code dir} is a PEFT adapter folder (it has adapter_config.json). */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** Reads and checks adapter_config.json; the weights are read by {@link #attachTo}. */
    public static PeftAdapter read(Path dir) {
        JsonNode c;
        try {
            c = Checkpoint.JSON.readTree(dir.resolve(CONFIG).toFile());
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + dir.resolve(CONFIG) + ": " + e.getMessage(), e);
        }
        String where = "PEFT adapter " + dir + ": ";
        String type = c.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw new ModelFormatException(where + "peft_type is '" + type + "'; only LORA adapters can be merged");
        }
        for (String flag : new String[] {"use_dora", "use_rslora", "fan_in_fan_out"}) {
            if (c.path(flag).asBoolean(false)) {
                throw new ModelFormatException(where + flag + " is true; only plain LoRA (W + alpha/r B A) is supported");
            }
        }
        for (String pattern : new String[] {"rank_pattern", "alpha_pattern"}) {
            if (c.hasNonNull(pattern) && !c.get(pattern).isEmpty()) {
                throw new ModelFormatException(where + pattern + " is not empty; per-module ranks and alphas are not supported");
            }
        }
        if (c.hasNonNull("modules_to_save") && !c.get("modules_to_save").isEmpty()) {
            throw new ModelFormatException(where + "modules_to_save " + c.get("modules_to_save")
                    + " is not supported: only low-rank updates can be merged");
        }
        String bias = c.path("bias").asText("none");
        if (!bias.equals("none")) {
            throw new ModelFormatException(where + "bias is '" + bias + "'; only adapters without trained biases are supported");
        }
        if (!c.path("r").canConvertToInt() || c.path("r").asInt() <= 0 || !c.path("lora_alpha").isNumber()) {
            throw new ModelFormatException(where + "r must be a positive integer and lora_alpha a number, got r="
                    + c.get("r") + ", lora_alpha=" + c.get("lora_alpha"));
        }
        if (!Files.isRegularFile(dir.resolve(WEIGHTS))) {
            throw new ModelFormatException(where + "no " + WEIGHTS);
        }
        String base = c.hasNonNull("base_model_name_or_path") ? c.get("base_model_name_or_path").asText() : null;
        return new PeftAdapter(dir, base == null || base.isBlank() ? null : base, c.get("r").asInt(),
                c.get("lora_alpha").asDouble());
    }

    /**
     * Reads the adapter's tensors onto {@code model}'s manager and attaches them (float32, or
     * float64 for a float64 model, as {@link TrainableSet#lora}); dropout off. Every tensor must
     * name a projection of the model with the shape it has, and come as an A and B pair.
     *
     * @return HF module name -> the attached adapter
     */
    public Map<String, LoraAdapter> attachTo(CausalLm model) {
        String where = "PEFT adapter " + dir + ": ";
        DataType dtype = model.dataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        Set<String> known = Set.copyOf(model.projectionNames());
        Map<String, LoraAdapter> attached = new LinkedHashMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve(WEIGHTS))) {
            Set<String> modules = new TreeSet<>();
            for (String name : reader.names()) {
                String module = moduleOf(name);
                if (module == null) {
                    throw new ModelFormatException(where + "tensor '" + name + "' is not a LoRA weight ("
                            + PREFIX + "<module>.lora_A.weight or .lora_B.weight)");
                }
                modules.add(module);
            }
            if (modules.isEmpty()) {
                throw new ModelFormatException(where + WEIGHTS + " holds no LoRA weights");
            }
            for (String module : modules) {
                if (!known.contains(module)) {
                    throw new ModelFormatException(where + "module '" + module + "' is not in the base model; it has e.g. "
                            + model.projectionNames().subList(0, Math.min(4, known.size())));
                }
                String slice = module.substring(module.lastIndexOf('.') + 1);
                Linear linear = model.projection(module);
                String aName = PREFIX + module + ".lora_A.weight";
                String bName = PREFIX + module + ".lora_B.weight";
                if (!reader.contains(aName) || !reader.contains(bName)) {
                    throw new ModelFormatException(where + "module '" + module + "' needs both lora_A and lora_B");
                }
                requireShape(where, reader, aName, new long[] {rank, linear.inFeatures()});
                requireShape(where, reader, bName, new long[] {linear.outFeatures(slice), rank});
            }
            for (String module : modules) { // all checked first: a refused adapter attaches nothing
                String aName = PREFIX + module + ".lora_A.weight";
                String bName = PREFIX + module + ".lora_B.weight";
                NDArray a = reader.read(aName, model.manager(), dtype);
                NDArray b = reader.read(bName, model.manager(), dtype);
                LoraAdapter adapter = new LoraAdapter(a, b, (float) alpha, 0f);
                model.attachLora(module, adapter);
                attached.put(module, adapter);
            }
        }
        return attached;
    }

    /**
     * Loads the base from {@code baseDir} (float32, CPU), attaches this adapter and writes the
     * merged model there as a Hugging Face folder with {@link ModelExport#writeMerged}.
     */
    public Path mergeInto(Path baseDir, Path out) {
        try (CausalLm model = CausalLm.load(baseDir, Device.cpu(), DataType.FLOAT32)) {
            attachTo(model);
            return ModelExport.writeMerged(model, baseDir, out);
        }
    }

    /** The model it was trained on, as its config names it ({@code base_model_name_or_path}); null when unnamed. */
    public String baseModel() {
        return baseModel;
    }

    public int rank() {
        return rank;
    }

    public double alpha() {
        return alpha;
    }

    /** {@code base_model.model.X.lora_A.weight} -> X; null for any other name. */
    private static String moduleOf(String tensor) {
        for (String suffix : new String[] {".lora_A.weight", ".lora_B.weight"}) {
            if (tensor.startsWith(PREFIX) && tensor.endsWith(suffix)) {
                return tensor.substring(PREFIX.length(), tensor.length() - suffix.length());
            }
        }
        return null;
    }

    private void requireShape(String where, SafetensorsReader reader, String name, long[] expected) {
        long[] shape = reader.entry(name).shape();
        if (!Arrays.equals(shape, expected)) {
            throw new ModelFormatException(where + name + " has shape " + Arrays.toString(shape) + ", expected "
                    + Arrays.toString(expected) + " (r=" + rank + " from adapter_config.json and the base model's projection)");
        }
    }
}
