package dev.forgeline.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.engine.train.PeftAdapter;
import dev.forgeline.engine.weights.ModelAverage;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.sources.ModelSources;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The {@code method: average} job: resolves the request's models, writes their weighted mean with
 * llm-engine's {@link ModelAverage} (which refuses other shapes and tokenizers) and says what the
 * card's lineage needs. A model that is a PEFT adapter folder is merged into its base first
 * ({@link PeftAdapter}, into a temporary folder): the base its adapter_config.json names
 * ({@code base_model_name_or_path}), else the request's {@code base_model}, resolved like any model.
 * Lineage names the adapter as the request gave it.
 */
final class Averaging {
    private final ModelSources models;

    Averaging(ModelSources models) {
        this.models = models;
    }

    /**
     * @param baseModel the base the average is a fine-tune of: the request's, else the first model's
     * @param parent    the first model's registry id or reference (the card's {@code parent})
     * @param parents   every model as lineage names it, with its normalised weight
     */
    record Averaged(String baseModel, String parent, List<WeightedModel> parents) {}

    Averaged run(JobContext<TrainingRequest> ctx, Path output) throws IOException {
        TrainingRequest request = ctx.request();
        List<ModelSources.ModelSource> sources = new ArrayList<>();
        List<ModelAverage.Part> parts = new ArrayList<>();
        String firstAdapterBase = null; // the base an adapter given first was merged into
        Path merges = Files.createTempDirectory("forge-peft-merge-");
        try {
            for (int i = 0; i < request.models().size(); i++) {
                WeightedModel m = request.models().get(i);
                String field = "models[" + i + "]";
                ModelSources.ModelSource source = models.resolveModelOrAdapter(field, m.model());
                sources.add(source);
                Path dir = source.dir();
                if (ModelSources.isAdapter(dir)) {
                    String baseRef = baseOfAdapter(field, source, request);
                    ModelSources.ModelSource base = models.resolve(field + " base model", baseRef);
                    dir = PeftAdapter.read(source.dir()).mergeInto(base.dir(), merges.resolve("merged-" + i));
                    if (i == 0) firstAdapterBase = baseRef;
                }
                parts.add(new ModelAverage.Part(dir, m.weight()));
            }
            ctx.progress(0.0, Map.of("models", parts.size()));
            double[] weights = ModelAverage.write(parts, output);
            ctx.progress(1.0, Map.of("models", parts.size()));

            List<WeightedModel> parents = new ArrayList<>();
            for (int i = 0; i < sources.size(); i++) parents.add(new WeightedModel(sources.get(i).parent(), weights[i]));
            ModelSources.ModelSource first = sources.get(0);
            String base = request.baseModel() != null ? request.baseModel()
                    : firstAdapterBase != null ? firstAdapterBase : baseOf(first);
            return new Averaged(base, first.parent(), parents);
        } finally {
            deleteTree(merges);
        }
    }

    /** The adapter's own base (adapter_config.json), else the request's base_model. */
    private static String baseOfAdapter(String field, ModelSources.ModelSource adapter, TrainingRequest request) {
        String named = PeftAdapter.read(adapter.dir()).baseModel();
        if (named != null) return named;
        if (request.baseModel() != null) return request.baseModel();
        throw new IllegalArgumentException(field + " '" + adapter.reference() + "' is a PEFT adapter whose"
                + " adapter_config.json names no base_model_name_or_path; set base_model to the model it was trained on");
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** The base model on a model's card (models/{id}/card.json, as the trainer writes it), else the model itself. */
    private static String baseOf(ModelSources.ModelSource model) throws IOException {
        Path card = model.dir().resolve("card.json");
        if (Files.isRegularFile(card)) {
            JsonNode base = ContractsJson.mapper().readTree(card.toFile()).get("base_model");
            if (base != null && base.isTextual()) return base.asText();
        }
        return model.parent();
    }
}
