package dev.forgeline.contracts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Defaults, the derived training step and every field's errors of {@link RejectionSamplingRequest}. */
class RejectionSamplingRequestTest {
    private static final String VALID = """
            {"job_id":"rs-1","prompts":"prompts.jsonl","policy":{"model":"stories260k"},"scorer":{"type":"exact_match"}""";

    private static RejectionSamplingRequest read(String json) throws Exception {
        return ContractsJson.read(json, RejectionSamplingRequest.class);
    }

    private static List<String> errors(String json) throws Exception {
        return read(json).validate().stream().map(FieldError::toString).toList();
    }

    /** The valid request with {@code extra} fields added. */
    private static List<String> errorsWith(String extra) throws Exception {
        return errors(VALID + "," + extra + "}");
    }

    @Test
    void defaultsAreFilledInAndTheTrainingStepDerivesFromTheJob() throws Exception {
        RejectionSamplingRequest r = read(VALID + "}");
        assertEquals(List.of(), r.validate());
        assertEquals(4, r.numSamples());
        assertEquals(0.8, r.temperature());
        assertEquals(1.0, r.topP());
        assertEquals(256, r.maxTokens());
        assertEquals(42L, r.seed());
        assertEquals(4, r.maxConcurrency());
        assertEquals(1.0, r.threshold());
        assertEquals(List.of(RejectionSamplingRequest.Output.SFT, RejectionSamplingRequest.Output.PREFERENCE), r.outputs());
        assertEquals("rs-1-sft", r.sftDatasetId());
        assertEquals("rs-1-pref", r.preferenceDatasetId());
        assertEquals(0.1, r.testFraction());
        assertNull(read(VALID + ",\"scorer\":{\"type\":\"regex\",\"pattern\":\"x\"}}").scorer().maxScore());
        assertEquals(10.0, read(VALID + ",\"scorer\":{\"type\":\"judge\",\"rubric\":\"r\"}}").scorer().maxScore());

        RejectionSamplingRequest chained = read(VALID + ",\"then\":[\"train\",\"eval\"],"
                + "\"train\":{\"base_model\":\"stories260k\",\"max_steps\":5},\"eval\":{}}");
        // the eval settings belong to the training step; without them the step is invalid
        assertEquals(List.of("train.eval: required when then names 'eval' (at least a dataset or a gate)"),
                chained.validate().stream().map(FieldError::toString).toList());
        RejectionSamplingRequest sft = read(VALID + ",\"then\":[\"train\"],\"train\":{\"base_model\":\"stories260k\"}}");
        TrainingRequest next = sft.trainingRequest();
        assertEquals("rs-1-train", next.jobId());
        assertEquals("rs-1-sft", next.dataset());
        assertEquals(List.of(), next.then());
        RejectionSamplingRequest dpo = read(VALID + ",\"then\":[\"train\"],\"train\":{\"base_model\":\"b\",\"method\":\"dpo\"}}");
        assertEquals("rs-1-pref", dpo.trainingRequest().dataset());

        String json = ContractsJson.write(sft);
        assertEquals(sft, read(json));
    }

    @Test
    void aRoundIsTheTrainStepsOwnChainAndItsDpoStepTrainsOnThePreferenceSet() throws Exception {
        String round = VALID + ",\"then\":[\"train\"],\"train\":{\"base_model\":\"stories260k\",\"then\":[\"train\"],"
                + "\"train\":{\"method\":\"dpo\",\"then\":[\"train\"],\"train\":{\"method\":\"average\","
                + "\"then\":[\"eval\"],\"eval\":{\"dataset\":\"mmlu\"}}}}";
        RejectionSamplingRequest r = read(round + "}");
        assertEquals(List.of(), r.validate());
        TrainingRequest sft = r.trainingRequest();
        assertEquals("rs-1-sft", sft.dataset());
        assertEquals(List.of("train"), sft.then());
        TrainingRequest dpo = sft.nextTraining("stories260k");
        assertEquals("rs-1-pref", dpo.dataset());
        assertEquals("ft-rs-1-train", dpo.baseModel());
        assertEquals(List.of("train"), dpo.then());

        assertEquals("train.then: give the steps after 'train' either in then or in train.then, not both",
                errors(round.replace("\"then\":[\"train\"],\"train\":{\"base", "\"then\":[\"train\",\"eval\"],\"train\":{\"base") + "}").get(0));
    }

    @Test
    void everyFieldsBadValuesGiveFieldErrors() throws Exception {
        assertEquals(List.of("job_id: required", "prompts: required", "policy: required (at least model)",
                "scorer: required (at least type: exact_match, regex, json_schema or judge)"), errors("{}"));
        assertEquals(List.of("policy.model: required", "policy.base_url: must be an http(s) URL"),
                errorsWith("\"policy\":{\"base_url\":\"ftp://x\"}"));
        assertEquals(List.of("num_samples: must be in [1, 128]"), errorsWith("\"num_samples\":0"));
        assertEquals(List.of("num_samples: must be in [1, 128]"), errorsWith("\"num_samples\":129"));
        assertEquals(List.of("temperature: must be in [0, 2]"), errorsWith("\"temperature\":2.5"));
        assertEquals(List.of("top_p: must be in (0, 1]"), errorsWith("\"top_p\":0"));
        assertEquals(List.of("max_tokens: must be in [1, 1048576]"), errorsWith("\"max_tokens\":0"));
        assertEquals(List.of("max_concurrency: must be in [1, 256]"), errorsWith("\"max_concurrency\":0"));
        assertEquals(List.of("threshold: must be in [0, 1]"), errorsWith("\"threshold\":1.5"));
        assertEquals(List.of("test_fraction: must be in [0, 1)"), errorsWith("\"test_fraction\":1"));
        assertEquals(List.of("outputs: names an output twice"), errorsWith("\"outputs\":[\"sft\",\"sft\"]"));
        assertEquals(List.of("preference_dataset_id: must differ from sft_dataset_id"),
                errorsWith("\"sft_dataset_id\":\"d\",\"preference_dataset_id\":\"d\""));
        assertEquals(List.of("sft_dataset_id: must be one path segment"), errorsWith("\"sft_dataset_id\":\"../x\""));
        assertEquals(List.of("scorer.type: required"), errorsWith("\"scorer\":{}"));
        assertEquals(List.of("scorer.extract: not a regular expression: Unclosed group"),
                errorsWith("\"scorer\":{\"type\":\"exact_match\",\"extract\":\"(a\"}"));
        assertEquals(List.of("scorer.pattern: required"), errorsWith("\"scorer\":{\"type\":\"regex\"}"));
        assertEquals(List.of("scorer.pattern: not a regular expression: Dangling meta character '*'"),
                errorsWith("\"scorer\":{\"type\":\"regex\",\"pattern\":\"*a\"}"));
        assertEquals(List.of("scorer.schema: required"), errorsWith("\"scorer\":{\"type\":\"json_schema\"}"));
        assertEquals(List.of("scorer.schema: must be a JSON Schema: an object (or true/false)"),
                errorsWith("\"scorer\":{\"type\":\"json_schema\",\"schema\":\"string\"}"));
        assertEquals(List.of("scorer.rubric: required"), errorsWith("\"scorer\":{\"type\":\"judge\"}"));
        assertEquals(List.of("scorer.max_score: must be > 0", "scorer.judge.base_url: must be an http(s) URL"),
                errorsWith("\"scorer\":{\"type\":\"judge\",\"rubric\":\"r\",\"max_score\":0,\"judge\":{\"base_url\":\"x\"}}"));
        assertEquals(List.of("scorer.pattern: only for type regex", "scorer.rubric: only for type judge",
                        "scorer.max_score: only for type judge"),
                errorsWith("\"scorer\":{\"type\":\"exact_match\",\"pattern\":\"a\",\"rubric\":\"r\",\"max_score\":5}"));
        assertEquals(List.of("train: required when then names 'train' (at least base_model)"), errorsWith("\"then\":[\"train\"]"));
        assertEquals(List.of("train.base_model: required"), errorsWith("\"then\":[\"train\"],\"train\":{}"));
        assertEquals(List.of("outputs: must include sft: the train step trains on it"),
                errorsWith("\"then\":[\"train\"],\"outputs\":[\"preference\"],\"train\":{\"base_model\":\"b\"}"));
        assertEquals(List.of("outputs: must include preference: the train step trains on it"),
                errorsWith("\"then\":[\"train\"],\"outputs\":[\"sft\"],\"train\":{\"base_model\":\"b\",\"method\":\"dpo\"}"));
        assertEquals(List.of("then: a dataset goes to 'train' first, not 'eval'"),
                errorsWith("\"then\":[\"eval\"]"));
        assertEquals(List.of("then[0]: unknown step 'bake' (expected one of [train, eval, deploy])",
                "then: a dataset goes to 'train' first, not 'bake'"), errorsWith("\"then\":[\"bake\"]"));
    }
}
