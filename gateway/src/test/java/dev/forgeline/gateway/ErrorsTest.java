package dev.forgeline.gateway;

import static dev.forgeline.gateway.EngineReference.MODEL;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.forgeline.kafka.KafkaBrokerTestResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** Every error of the API: status and OpenAI's body {"error": {message, type, param, code}}, never a stack trace. */
@QuarkusTest
@WithTestResource(KafkaBrokerTestResource.class)
class ErrorsTest {

    private static ValidatableResponse chat(String body) {
        return given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).contentType("application/json")
                .body(body).post("/v1/chat/completions").then();
    }

    private static ValidatableResponse invalid(ValidatableResponse r, String param) {
        return r.statusCode(400).contentType("application/json")
                .body("error.type", equalTo("invalid_request_error"))
                .body("error.param", param == null ? nullValue() : equalTo(param))
                .body("error.message", notNullValue())
                .body("error", org.hamcrest.Matchers.hasKey("code"))
                .body(not(containsString("Exception")));
    }

    private static String msg(String extra) {
        return "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]" + extra + "}";
    }

    @Test
    void badJson() {
        invalid(chat("{\"model\": \"" + MODEL + "\", \"messages\": [").statusCode(400), null)
                .body("error.message", containsString("parse"));
        invalid(chat("[]"), null);
        invalid(chat(""), null);
    }

    @Test
    void wrongTypes() {
        invalid(chat(msg(",\"temperature\":\"hot\"")), "temperature");
        invalid(chat(msg(",\"max_tokens\":\"ten\"")), "max_tokens");
        invalid(chat(msg(",\"max_tokens\":1.5")), "max_tokens");
        invalid(chat(msg(",\"stream\":1")), "stream");
        invalid(chat(msg(",\"stop\":5")), "stop");
        invalid(chat("{\"model\":\"" + MODEL + "\",\"messages\":\"Hi\"}"), "messages");
        invalid(chat("{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"), "model");
        invalid(chat(msg(",\"user\":true")), "user");
        invalid(chat("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":7}]}"),
                "messages[0].content");
        invalid(chat("{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}"),
                "messages[0].role");
    }

    @Test
    void outOfRange() {
        invalid(chat(msg(",\"temperature\":2.5")), "temperature").body("error.message", containsString("temperature"));
        invalid(chat(msg(",\"temperature\":-0.1")), "temperature");
        invalid(chat(msg(",\"top_p\":0")), "top_p");
        invalid(chat(msg(",\"n\":0")), "n");
        invalid(chat(msg(",\"max_tokens\":0")), "max_tokens");
        invalid(chat(msg(",\"top_logprobs\":3")), "top_logprobs");
        invalid(chat(msg(",\"stream_options\":{\"include_usage\":true}")), "stream_options");
    }

    @Test
    void emptyMessagesAndMissingModel() {
        invalid(chat("{\"model\":\"" + MODEL + "\",\"messages\":[]}"), "messages");
        invalid(chat("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"), "model");
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).contentType("application/json")
                .body("{\"model\":\"" + MODEL + "\"}").post("/v1/completions").then()
                .statusCode(400).body("error.param", equalTo("prompt"));
    }

    @Test
    void contextLengthExceeded() {
        invalid(chat(msg(",\"max_tokens\":100000")), "messages").body("error.code", equalTo("context_length_exceeded"))
                .body("error.message", containsString("maximum context length is 512"));
        String longPrompt = "Once upon a time ".repeat(200);
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).contentType("application/json")
                .body("{\"model\":\"" + MODEL + "\",\"prompt\":\"" + longPrompt + "\"}").post("/v1/completions").then()
                .statusCode(400).body("error.code", equalTo("context_length_exceeded")).body("error.param", equalTo("prompt"));
    }

    @Test
    void apiKeys() {
        given().contentType("application/json").body(msg("")).post("/v1/chat/completions").then()
                .statusCode(401).body("error.code", equalTo("invalid_api_key"))
                .body("error.type", equalTo("invalid_request_error"))
                .body("error.message", containsString("didn't provide an API key"));
        given().header("Authorization", "Bearer sk-wrong").contentType("application/json").body(msg(""))
                .post("/v1/chat/completions").then()
                .statusCode(401).body("error.code", equalTo("invalid_api_key"))
                .body("error.message", not(containsString("sk-wrong")));
        given().get("/v1/models").then().statusCode(401);
        given().header("Authorization", "Basic " + GatewayTestSupport.KEY).get("/v1/models").then().statusCode(401);
    }

    @Test
    void unknownModel() {
        chat("{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}")
                .statusCode(404).body("error.code", equalTo("model_not_found")).body("error.param", equalTo("model"))
                .body("error.type", equalTo("invalid_request_error"));
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/models/no-such-model").then()
                .statusCode(404).body("error.code", equalTo("model_not_found"));
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/nothing-here").then()
                .statusCode(404).body("error.message", containsString("Unknown request URL"));
    }

    /** RestAssured will not send a raw form or multipart body, nor a body without a Content-Type. */
    private static HttpResponse<String> send(String method, String path, String contentType, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(GatewayTestSupport.v1() + path))
                .header("Authorization", "Bearer " + GatewayTestSupport.KEY)
                .method(method, HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return GatewayTestSupport.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void notJson() throws Exception {
        // a form or multipart body is turned away before Vert.x would decode it (a malformed one was a 500)
        for (String[] c : new String[][] {{"application/x-www-form-urlencoded", "prompt=%zz&b=%"},
                {"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: garbage\r\n\r\nhi\r\n--x--\r\n"},
                {"multipart/form-data", "--x"}, {"text/plain", msg("")}}) {
            HttpResponse<String> r = send("POST", "/completions", c[0], c[1]);
            assertEquals(415, r.statusCode(), c[0] + ": " + r.body());
            JsonNode error = new ObjectMapper().readTree(r.body()).get("error");
            assertEquals("invalid_request_error", error.get("type").asText());
            assertEquals("unsupported_media_type", error.get("code").asText());
            assertTrue(error.get("message").asText().contains("application/json"), r.body());
        }
        // no Content-Type at all is read as JSON, as most clients that forget it mean
        HttpResponse<String> bare = send("POST", "/chat/completions", null, "{\"model\":5}");
        assertEquals(400, bare.statusCode(), bare.body());
        assertTrue(bare.body().contains("\"param\":\"model\""), bare.body());
        // a GET route reads no body, whatever its type says
        assertEquals(200, send("GET", "/models", "application/x-www-form-urlencoded", "a=%zz").statusCode());
        assertEquals(200, send("GET", "/models/" + MODEL, "multipart/form-data", "--x").statusCode());
    }

    @Test
    void wrongMethodAndUnknownPath() {
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/chat/completions").then()
                .statusCode(405).header("Allow", "POST").body("error.type", equalTo("invalid_request_error"))
                .body("error.message", equalTo("Invalid method for URL (GET /v1/chat/completions)"));
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).contentType("application/json").body("{}")
                .delete("/v1/models/" + MODEL).then().statusCode(405).header("Allow", "GET");
        given().post("/no/such/path").then().statusCode(404).contentType("application/json")
                .body("error.message", containsString("Unknown request URL")).body("error.type", notNullValue());
        given().header("Authorization", "Bearer " + GatewayTestSupport.KEY).get("/v1/models").then()
                .header("x-request-id", org.hamcrest.Matchers.startsWith("req_"));
    }

    @Test
    void bodyTooLarge() {
        String huge = "x".repeat(5 * 1024 * 1024);
        chat(msg(",\"user\":\"" + huge + "\"")).statusCode(413).body("error.code", equalTo("request_too_large"));
    }
}
