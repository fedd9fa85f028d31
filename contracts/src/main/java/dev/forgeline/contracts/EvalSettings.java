package dev.forgeline.contracts;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;

/**
 * What a pipeline's eval step needs, carried by the request before it ({@code then: [eval, ...]}):
 * the fields of {@link EvalRequest} that the previous step cannot know. The model, its base and
 * the held-out set come from the step that made the model.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record EvalSettings(
        String dataset,
        List<String> subjects,
        Integer numFewshot,
        Integer limit,
        EvalRequest.Mode mode,
        Integer maxNewTokens,
        EvalRequest.Gate gate) {

    /** Checked as the eval request it becomes, minus the fields the pipeline fills in. */
    public List<FieldError> validate() {
        return EvalRequest.after(this, "check", List.of(), "check", null, "check").validate();
    }
}
