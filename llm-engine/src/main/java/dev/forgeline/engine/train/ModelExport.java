package dev.forgeline.engine.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.LoraAdapter;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes what training produced, each folder complete or not at all (written beside its
 * destination, then renamed into place):
 * <ul>
 * <li>the merged model in Hugging Face layout: the base's config.json, model.safetensors under HF
 *     tensor names, the base's tokenizer files and generation config, loadable by
 *     {@link CausalLm#load} and by transformers;</li>
 * <li>the LoRA adapter in PEFT layout: adapter_config.json and adapter_model.safetensors with
 *     PEFT's names ({@code base_model.model.<module>.lora_A.weight}, A (r, in), B (out, r)).</li>
 * </ul>
 */
public final class ModelExport {

    /** Files a Hugging Face model folder may hold besides weights and config; copied when present. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
            "chat_template.jinja", "chat_template.json", "generation_config.json");

    private ModelExport() {}

    /** The adapters of a LoRA run in PEFT layout. */
    public static Path writeAdapter(TrainableSet set, TrainingConfig.LoraConfig lora, String baseModel, Path out) {
        if (set.adapters().isEmpty()) {
            throw new IllegalStateException("no LoRA adapters to export (method " + set.method() + ")");
        }
        return atomically(out, tmp -> {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            Set<String> modules = new LinkedHashSet<>();
            for (Map.Entry<String, LoraAdapter> e : set.adapters().entrySet()) {
                String name = e.getKey();
                tensors.put("base_model.model." + name + ".lora_A.weight", e.getValue().a());
                tensors.put("base_model.model." + name + ".lora_B.weight", e.getValue().b());
                modules.add(name.substring(name.lastIndexOf('.') + 1));
            }
            SafetensorsWriter.write(tmp.resolve("adapter_model.safetensors"), tensors, Map.of("format", "pt"));
            ObjectNode c = Checkpoint.JSON.createObjectNode();
            c.put("peft_type", "LORA");
            c.put("task_type", "CAUSAL_LM");
            c.put("base_model_name_or_path", baseModel);
            c.put("r", lora.r());
            c.put("lora_alpha", lora.alpha());
            c.put("lora_dropout", lora.dropout());
            ArrayNode targets = c.putArray("target_modules");
            modules.forEach(targets::add);
            c.put("bias", "none");
            c.put("fan_in_fan_out", false);
            c.put("inference_mode", true);
            c.put("init_lora_weights", true);
            c.put("use_rslora", false);
            c.put("use_dora", false);
            c.putNull("modules_to_save");
            c.putObject("rank_pattern");
            c.putObject("alpha_pattern");
            Checkpoint.JSON.writeValue(tmp.resolve("adapter_config.json").toFile(), c);
        });
    }

    /**
     * Folds any LoRA adapters into {@code model} (it stays usable and computes the same function)
     * and writes it as a Hugging Face folder. When a tied head had its own adapter, merging
     * unties it ({@link CausalLm#mergeLora}): lm_head.weight is written and the config says
     * {@code tie_word_embeddings: false}.
     */
    public static Path writeMerged(CausalLm model, Path baseDir, Path out) {
        model.mergeLora();
        return atomically(out, tmp -> {
            try (NoGradient ignored = NoGradient.enter(); NDManager views = model.manager().newSubManager()) {
                SafetensorsWriter.write(tmp.resolve("model.safetensors"), model.stateDict(views), Map.of("format", "pt"));
            }
            ObjectNode config = (ObjectNode) Checkpoint.JSON.readTree(baseDir.resolve("config.json").toFile());
            if (!model.config().tieWordEmbeddings()) {
                config.put("tie_word_embeddings", false); // the base may be tied; the merged head may not
            }
            config.put("torch_dtype", model.dataType().name().equals("FLOAT64") ? "float64" : "float32");
            Checkpoint.JSON.writeValue(tmp.resolve("config.json").toFile(), config);
            for (String f : TOKENIZER_FILES) {
                if (Files.isRegularFile(baseDir.resolve(f))) {
                    Files.copy(baseDir.resolve(f), tmp.resolve(f));
                }
            }
            if (!Files.exists(tmp.resolve("generation_config.json"))) {
                ObjectNode g = Checkpoint.JSON.createObjectNode();
                JsonNode bos = config.get("bos_token_id");
                JsonNode eos = config.get("eos_token_id");
                if (bos != null) g.set("bos_token_id", bos);
                if (eos != null) g.set("eos_token_id", eos);
                Checkpoint.JSON.writeValue(tmp.resolve("generation_config.json").toFile(), g);
            }
        });
    }

    /** card.json: lineage and results, in the registry card's snake_case field names. */
    public static Path writeCard(Path dir, Map<String, Object> card) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve("card.json");
            Path tmp = dir.resolve(".card.json.tmp");
            Checkpoint.JSON.writeValue(tmp.toFile(), card);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    interface Writer {
        void write(Path tmp) throws IOException;
    }

    private static Path atomically(Path out, Writer writer) {
        Path parent = out.toAbsolutePath().getParent();
        Path tmp = parent.resolve("." + out.getFileName() + ".tmp-" + System.nanoTime());
        try {
            Files.createDirectories(tmp);
            writer.write(tmp);
            if (Files.exists(out)) {
                Checkpoint.deleteTree(out);
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            if (Files.exists(tmp)) {
                Checkpoint.deleteTree(tmp);
            }
        }
    }
}
