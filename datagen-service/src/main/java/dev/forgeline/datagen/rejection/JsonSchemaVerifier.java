package dev.forgeline.datagen.rejection;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.ValidationMessage;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.SpecVersionDetector;
import java.io.IOException;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * 1 when the answer is JSON (one value, optionally inside a Markdown code fence) that the schema
 * accepts, else 0; networknt's json-schema-validator, draft 2020-12 unless the schema's
 * {@code $schema} names another.
 */
final class JsonSchemaVerifier implements Scorer {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private final JsonSchema schema;

    JsonSchemaVerifier(JsonNode schema) {
        SpecVersion.VersionFlag version = SpecVersionDetector.detectOptionalVersion(schema, false)
                .orElse(SpecVersion.VersionFlag.V202012);
        JsonSchemaFactory factory = JsonSchemaFactory.getInstance(version);
        // the dialect's meta-schema ships in the library's jar, so this check needs no network
        Set<ValidationMessage> problems = factory.getSchema(SchemaLocation.of(version.getId())).validate(schema);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("scorer.schema is not a valid JSON Schema: "
                    + problems.stream().limit(5).map(ValidationMessage::getMessage).toList());
        }
        try {
            this.schema = factory.getSchema(schema);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("scorer.schema is not a usable JSON Schema: " + e.getMessage(), e);
        }
    }

    @Override
    public OptionalDouble score(SamplePrompt prompt, String answer) {
        JsonNode value;
        try {
            value = JSON.readTree(unfenced(answer));
        } catch (IOException e) {
            return OptionalDouble.of(0);
        }
        if (value == null || value.isMissingNode()) return OptionalDouble.of(0);
        return OptionalDouble.of(schema.validate(value).isEmpty() ? 1 : 0);
    }

    /** The text inside a ```json ... ``` fence, or the text itself. */
    static String unfenced(String answer) {
        String t = answer.strip();
        if (t.startsWith("```") && t.endsWith("```") && t.length() >= 6) {
            int firstLine = t.indexOf('\n');
            if (firstLine > 0) return t.substring(firstLine + 1, t.length() - 3);
        }
        return t;
    }
}
