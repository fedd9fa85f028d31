package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.DecoderLayer;
import dev.forgeline.engine.model.Linear;
import dev.forgeline.engine.model.LoraAdapter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a fine-tuning method trains, prepared on a loaded model:
 * <ul>
 * <li>{@code lora}: a fresh adapter (B = 0) on every projection whose HF module name ends with
 *     a target module; the base weights stay frozen.</li>
 * <li>{@code full}: every weight, embeddings and norms included.</li>
 * <li>{@code freeze}: the last N decoder layers, the final norm and the head; everything else
 *     keeps its exact bits. With tied embeddings the head is the input embedding too.</li>
 * </ul>
 * Stacked projections (q|k|v, gate|up) train as one tensor: AdamW is elementwise, so this is
 * the same update as training them apart.
 */
public final class TrainableSet {

    private final TrainingConfig.Method method;
    private final List<TrainableParameter> parameters;
    private final Map<String, LoraAdapter> adapters; // HF module name -> adapter

    private TrainableSet(TrainingConfig.Method method, List<TrainableParameter> parameters,
            Map<String, LoraAdapter> adapters) {
        this.method = method;
        this.parameters = List.copyOf(parameters);
        this.adapters = Collections.unmodifiableMap(adapters);
    }

    public static TrainableSet prepare(CausalLm model, TrainingConfig c) {
        return switch (c.method()) {
            case LORA -> lora(model, c.lora(), c.seed());
            case FULL -> weights(model, TrainingConfig.Method.FULL, model.layers().size(), true);
            case FREEZE -> weights(model, TrainingConfig.Method.FREEZE, c.trainableLayers(), false);
        };
    }

    /** Attaches adapters; their dtype is float32, or float64 for a float64 model (gradient checks). */
    public static TrainableSet lora(CausalLm model, TrainingConfig.LoraConfig lora, long seed) {
        DataType dtype = model.dataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32;
        Map<String, LoraAdapter> adapters = new LinkedHashMap<>();
        List<TrainableParameter> params = new ArrayList<>();
        int index = 0;
        for (String name : model.projectionNames()) {
            String module = name.substring(name.lastIndexOf('.') + 1);
            if (!lora.targetModules().contains(module)) {
                continue;
            }
            Linear linear = model.projection(name);
            LoraAdapter adapter = LoraAdapter.create(model.manager(), (int) linear.inFeatures(),
                    (int) linear.outFeatures(module), lora.r(), (float) lora.alpha(), (float) lora.dropout(),
                    seed * 0x9E3779B97F4A7C15L + index++, dtype);
            adapter.setTrainable(true);
            model.attachLora(name, adapter);
            adapters.put(name, adapter);
            params.add(new TrainableParameter(name + ".lora_A", adapter.a(), true));
            params.add(new TrainableParameter(name + ".lora_B", adapter.b(), true));
        }
        if (adapters.isEmpty()) {
            throw new IllegalArgumentException("no projection matches the LoRA target modules " + lora.targetModules()
                    + "; the model has e.g. " + model.projectionNames().subList(0, Math.min(8, model.projectionNames().size())));
        }
        return new TrainableSet(TrainingConfig.Method.LORA, params, adapters);
    }

    private static TrainableSet weights(CausalLm model, TrainingConfig.Method method, int lastLayers, boolean embeddings) {
        model.dropPackedWeights(); // they will change in place
        int n = model.layers().size();
        if (lastLayers > n) {
            throw new IllegalArgumentException("cannot train the last " + lastLayers + " layers of a " + n + "-layer model");
        }
        if (model.dataType() != DataType.FLOAT32 && model.dataType() != DataType.FLOAT64) {
            throw new IllegalArgumentException(method + " fine-tuning trains the weights in place and needs a float32 model, not "
                    + model.dataType());
        }
        Map<NDArray, Boolean> seen = new IdentityHashMap<>(); // tied embeddings: one tensor, two roles
        List<TrainableParameter> params = new ArrayList<>();
        if (embeddings) {
            add(params, seen, "model.embed_tokens.weight", model.embedTokens(), true);
        }
        for (int i = n - lastLayers; i < n; i++) {
            DecoderLayer layer = model.layers().get(i);
            String p = "model.layers." + i + ".";
            add(params, seen, p + "input_layernorm.weight", layer.inputNorm().weight(), false);
            addLinear(params, seen, p + "self_attn.", layer.attention().qkv());
            addLinear(params, seen, p + "self_attn.", layer.attention().output());
            add(params, seen, p + "post_attention_layernorm.weight", layer.postAttentionNorm().weight(), false);
            addLinear(params, seen, p + "mlp.", layer.mlp().gateUp());
            addLinear(params, seen, p + "mlp.", layer.mlp().down());
        }
        add(params, seen, "model.norm.weight", model.norm().weight(), false);
        add(params, seen, "lm_head.weight", model.lmHead().weight(), true);
        return new TrainableSet(method, params, new LinkedHashMap<>());
    }

    private static void addLinear(List<TrainableParameter> params, Map<NDArray, Boolean> seen, String prefix, Linear l) {
        String name = prefix + String.join("|", l.names());
        add(params, seen, name + ".weight", l.weight(), true);
        if (l.bias() != null) {
            add(params, seen, name + ".bias", l.bias(), false);
        }
    }

    private static void add(List<TrainableParameter> params, Map<NDArray, Boolean> seen, String name, NDArray a,
            boolean decay) {
        if (seen.put(a, Boolean.TRUE) == null) {
            a.setRequiresGradient(true);
            params.add(new TrainableParameter(name, a, decay));
        }
    }

    /** Dropout on (training) or off (evaluation, generation). */
    public void setTraining(boolean training) {
        adapters.values().forEach(a -> a.setTraining(training));
    }

    /** Stops recording gradients for every trained tensor (before serving or merging). */
    public void freeze() {
        for (TrainableParameter p : parameters) {
            p.value().setRequiresGradient(false);
        }
    }

    public TrainingConfig.Method method() {
        return method;
    }

    public List<TrainableParameter> parameters() {
        return parameters;
    }

    /** LoRA only: HF module name -> adapter. */
    public Map<String, LoraAdapter> adapters() {
        return adapters;
    }

    public long parameterCount() {
        return parameters.stream().mapToLong(p -> p.value().size()).sum();
    }

    static Set<String> names(List<TrainableParameter> ps) {
        Set<String> s = new java.util.LinkedHashSet<>();
        ps.forEach(p -> s.add(p.name()));
        return s;
    }
}
