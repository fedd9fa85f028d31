package dev.forgeline.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Quantity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every rendered object, parsed into its typed model and serialised again, equals what kustomize
 * rendered, field by field: no field was dropped, renamed or defaulted by the model. The only
 * normalisations are ones that are provably the same value: numbers compared by value (an int and
 * a long node of 3 are one number), and a resource quantity written as a YAML number or a string
 * ({@code cpu: 1} and {@code cpu: "1"}), compared as Kubernetes quantities.
 */
class RoundTripTest {

    static final List<String> OVERLAYS = Manifests.OVERLAYS;

    @ParameterizedTest
    @FieldSource("OVERLAYS")
    void everyObjectRoundTripsFieldByField(String overlay) {
        List<String> diffs = new ArrayList<>();
        List<Manifests.Rendered> objects = Manifests.objects(overlay);
        assertTrue(objects.size() > 10, overlay + " renders only " + objects.size() + " objects");
        for (Manifests.Rendered r : objects) {
            JsonNode again = Manifests.STRICT.valueToTree(r.object());
            List<String> d = new ArrayList<>();
            compare(r.yaml(), again, "", d);
            d.forEach(x -> diffs.add(overlay + " " + r.id() + x));
        }
        if (!diffs.isEmpty()) {
            fail("objects that do not round-trip through their typed model:\n  " + String.join("\n  ", diffs));
        }
    }

    /** The comparison itself must see a dropped field, an added one, a changed value. */
    @Test
    void comparisonSeesDifferences() throws Exception {
        JsonNode a = Manifests.STRICT.readTree("{\"a\":1,\"b\":{\"c\":[1,2]},\"resources\":{\"limits\":{\"cpu\":1}}}");
        List<String> d = new ArrayList<>();
        compare(a, Manifests.STRICT.readTree("{\"a\":1,\"b\":{\"c\":[1,2]},\"resources\":{\"limits\":{\"cpu\":\"1000m\"}}}"), "", d);
        assertEquals(List.of(), d, "1 and 1000m are one quantity");
        compare(a, Manifests.STRICT.readTree("{\"a\":1,\"b\":{\"c\":[1]},\"resources\":{\"limits\":{\"cpu\":1}}}"), "", d);
        compare(a, Manifests.STRICT.readTree("{\"a\":\"1\",\"b\":{\"c\":[1,2]},\"resources\":{\"limits\":{\"cpu\":2}}}"), "", d);
        compare(a, Manifests.STRICT.readTree("{\"b\":{\"c\":[1,2],\"x\":0},\"resources\":{\"limits\":{\"cpu\":1}}}"), "", d);
        assertEquals(5, d.size(), String.join("\n", d));
    }

    /** Strictness: a misspelt field fails the parse in both models instead of landing in additionalProperties. */
    @Test
    void strictParseRejectsUnknownFields() throws Exception {
        JsonNode deployment = Manifests.STRICT.readTree("""
                {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
                 "spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"spec":{"containers":[
                   {"name":"x","image":"x:1","readinessProbe":{"httpGet":{"path":"/q/health/ready","port":8000}},
                    "imagePullPolcy":"Always"}]}}}}""");
        var e = assertThrows(IllegalArgumentException.class, () -> Manifests.parse(deployment));
        assertTrue(e.getMessage().contains("imagePullPolcy"), e.getMessage());
        JsonNode topic = Manifests.STRICT.readTree("""
                {"apiVersion":"kafka.strimzi.io/v1beta2","kind":"KafkaTopic","metadata":{"name":"t"},
                 "spec":{"topicName":"t","partitions":1,"replica":1}}""");
        var e2 = assertThrows(IllegalArgumentException.class, () -> Manifests.parse(topic));
        assertTrue(e2.getMessage().contains("replica"), e2.getMessage());
        JsonNode unknownKind = Manifests.STRICT.readTree("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}");
        assertThrows(IllegalArgumentException.class, () -> Manifests.parse(unknownKind));
        // and the well-spelt ones parse
        Manifests.parse(Manifests.STRICT.readTree(deployment.toString().replace("imagePullPolcy", "imagePullPolicy")));
        Manifests.parse(Manifests.STRICT.readTree(topic.toString().replace("\"replica\"", "\"replicas\"")));
    }

    static void compare(JsonNode expected, JsonNode actual, String path, List<String> diffs) {
        if (expected.isObject() && actual.isObject()) {
            Set<String> names = new TreeSet<>();
            expected.fieldNames().forEachRemaining(names::add);
            actual.fieldNames().forEachRemaining(names::add);
            for (String n : names) {
                String p = path + "." + n;
                if (!expected.has(n)) diffs.add(p + ": added by the model: " + actual.get(n));
                else if (!actual.has(n)) diffs.add(p + ": dropped by the model (was " + expected.get(n) + ")");
                else compare(expected.get(n), actual.get(n), p, diffs);
            }
        } else if (expected.isArray() && actual.isArray()) {
            if (expected.size() != actual.size()) {
                diffs.add(path + ": " + expected.size() + " items rendered, " + actual.size() + " after the model");
                return;
            }
            Iterator<JsonNode> a = actual.elements();
            int i = 0;
            for (JsonNode e : expected) compare(e, a.next(), path + "[" + i++ + "]", diffs);
        } else if (expected.isNumber() && actual.isNumber()) {
            if (expected.decimalValue().compareTo(actual.decimalValue()) != 0) {
                diffs.add(path + ": " + expected + " rendered, " + actual + " after the model");
            }
        } else if (isQuantity(path) && expected.isValueNode() && actual.isValueNode()) {
            if (!new Quantity(expected.asText()).equals(new Quantity(actual.asText()))) {
                diffs.add(path + ": quantity " + expected + " rendered, " + actual + " after the model");
            }
        } else if (!expected.equals(actual)) {
            diffs.add(path + ": " + expected + " rendered, " + actual + " after the model");
        }
    }

    /** Fields whose values are Kubernetes quantities (resources, storage, emptyDir sizes). */
    private static boolean isQuantity(String path) {
        return path.matches(".*\\.(limits|requests|capacity)\\.[^.]+$")
                || path.endsWith(".sizeLimit") || path.endsWith(".size");
    }
}
