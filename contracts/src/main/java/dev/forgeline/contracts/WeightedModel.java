package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * A model and its weight in an average: an entry of a {@code method: average} request's
 * {@code models}, and of the averaged model's {@link ModelCard#parents()}.
 *
 * @param model  registry id, artifact URI or path of a merged model in Hugging Face layout
 * @param weight its share of the mean (default 1, so omitted weights are equal); a request's weights
 *               are normalised to sum to one, and a card lists them normalised
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WeightedModel(String model, Double weight) {
    public WeightedModel {
        if (weight == null) weight = 1.0;
    }

    public static WeightedModel of(String model) {
        return new WeightedModel(model, null);
    }
}
