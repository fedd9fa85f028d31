package dev.forgeline.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forgeline.contracts.ContractsJson;
import dev.forgeline.contracts.ModelCard;
import dev.forgeline.contracts.Topics;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** A model approved on forge.models while the gateway runs becomes listed and servable, no restart. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class RegistryFollowTest {

    @Test
    void approvedCardBecomesServable() throws Exception {
        String id = "stories-ft-" + System.nanoTime();
        ModelCard card = new ModelCard(id, EngineReference.MODEL, "ds-1", null, "lora", Map.of(),
                EngineReference.modelDir().toUri().toString(), null, Map.of(), ModelCard.Status.APPROVED,
                EngineReference.MODEL, "job-1", Instant.now(), 0);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBrokerTestResource.broker().bootstrapServers());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(Topics.MODELS, id, ContractsJson.write(card))).get(10, TimeUnit.SECONDS);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        boolean listed = false;
        while (!listed && System.nanoTime() < deadline) {
            listed = given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/models")
                    .jsonPath().getList("data.id").contains(id);
            if (!listed) {
                Thread.sleep(200);
            }
        }
        assertTrue(listed, "model " + id + " listed");
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/models/" + id).then()
                .statusCode(200).body("parent", equalTo(EngineReference.MODEL)).body("owned_by", equalTo("forgeline"));
        String text = given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).contentType("application/json")
                .body("{\"model\":\"" + id + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0}")
                .post("/v1/completions").then().statusCode(200).body("model", equalTo(id))
                .extract().jsonPath().getString("choices[0].text");
        EngineReference engine = EngineReference.get();
        assertEquals(engine.greedy(engine.tokenizer.encode("Once upon a time", true), 12).text(), text);

        // a rejected card withdraws it again
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(Topics.MODELS, id,
                    ContractsJson.write(card.withStatus(ModelCard.Status.REJECTED, Map.of())))).get(10, TimeUnit.SECONDS);
        }
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int status = 200;
        while (status == 200 && System.nanoTime() < deadline) {
            status = given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/models/" + id).statusCode();
            Thread.sleep(100);
        }
        assertEquals(404, status);
    }
}
