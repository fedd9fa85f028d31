package dev.forgeline.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.TrainingRequest;
import dev.forgeline.contracts.WeightedModel;
import dev.forgeline.engine.weights.ModelAverage;
import dev.forgeline.jobs.JobContext;
import dev.forgeline.sources.ModelSources;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code method: average} job: resolves the request's models, writes their weighted mean with
 * llm-engine's {@link ModelAverage} (which refuses other shapes and tokenizers) and says what the
 * card's lineage needs. PEFT adapter folders are refused by {@link ModelSources}: the engine has no
 * reader of PEFT adapters to merge them with, and the trainer already writes every adapter's merged model.
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
        for (int i = 0; i < request.models().size(); i++) {
            WeightedModel m = request.models().get(i);
            ModelSources.ModelSource source = models.resolve("models[" + i + "]", m.model());
            sources.add(source);
            parts.add(new ModelAverage.Part(source.dir(), m.weight()));
        }
        ctx.progress(0.0, Map.of("models", parts.size()));
        double[] weights = ModelAverage.write(parts, output);
        ctx.progress(1.0, Map.of("models", parts.size()));

        List<WeightedModel> parents = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) parents.add(new WeightedModel(sources.get(i).parent(), weights[i]));
        ModelSources.ModelSource first = sources.get(0);
        String base = request.baseModel() != null ? request.baseModel() : baseOf(first);
        return new Averaged(base, first.parent(), parents);
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
