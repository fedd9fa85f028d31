package dev.forgeline.eval;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class McqSetTest {
    @TempDir
    Path dir;

    @Test
    void readsTheOriginalMmluLayoutInPlace() {
        McqSet set = McqSet.read(SharedSets.mmlu());
        assertEquals(57, set.subjects().size());
        assertEquals(14042, set.subjects().stream().mapToInt(s -> set.test(s).size()).sum());
        assertEquals(285, set.subjects().stream().mapToInt(s -> set.dev(s).size()).sum());
        McqItem first = set.test("high_school_geography").get(0);
        assertEquals("The main factor preventing subsistence economies from advancing economically is the lack of",
                first.question());
        assertEquals(List.of("a currency.", "a well-connected transportation infrastructure.", "government activity.",
                "a banking service."), first.choices());
        assertEquals(1, first.answer());
        assertEquals(0, first.index());
        assertEquals(5, set.test("high_school_geography").get(5).index());
    }

    @Test
    void headeredCsvAndJsonlWithOtherChoiceCounts() throws Exception {
        Path csv = dir.resolve("trivia_test.csv");
        Files.writeString(csv, "question,A,B,C,answer,subject\n"
                + "\"Colour of the sky, on a clear day?\",blue,green,red,A,\n"
                + "\"Two \"\"quoted\"\" words\nover two lines\",x,y,z,2,weather\n");
        McqSet fromCsv = McqSet.read(csv);
        assertEquals(List.of("trivia", "weather"), fromCsv.subjects());
        assertEquals("Colour of the sky, on a clear day?", fromCsv.test("trivia").get(0).question());
        McqItem quoted = fromCsv.test("weather").get(0);
        assertEquals("Two \"quoted\" words\nover two lines", quoted.question());
        assertEquals(2, quoted.answer());

        Path jsonl = dir.resolve("maths_test.jsonl");
        Files.writeString(jsonl, "{\"question\":\"2+2?\",\"choices\":[\"3\",\"4\",\"5\",\"6\",\"7\"],\"answer\":1}\n\n"
                + "{\"question\":\"1+1?\",\"choices\":[\"2\",\"3\"],\"answer\":\"A\"}\n");
        Files.writeString(dir.resolve("maths_dev.jsonl"), "{\"question\":\"0+0?\",\"choices\":[\"0\",\"1\"],\"answer\":0}\n");
        McqSet fromJsonl = McqSet.read(jsonl);
        assertEquals(List.of("maths"), fromJsonl.subjects());
        assertEquals(5, fromJsonl.test("maths").get(0).choices().size());
        assertEquals(0, fromJsonl.test("maths").get(1).answer());
        assertEquals(1, fromJsonl.dev("maths").size(), "the dev sibling supplies shots");
    }

    @Test
    void malformedRowsNameTheirFileAndLine() throws Exception {
        String good = "\"A question\nspanning lines\",a,b,c,d,A\n";
        assertFails("x_test.csv", good + "q,a,b,c,d,E\n", "x_test.csv line 3: answer 'E' is not one of A-D");
        assertFails("x_test.csv", good + "q,a,b,c,A\n", "x_test.csv line 3: 5 columns, expected 6");
        assertFails("x_test.csv", good + ",a,b,c,d,A\n", "x_test.csv line 3: empty question");
        assertFails("x_test.csv", good + "\"unterminated,a,b,c,d,A\n", "x_test.csv line 3: a quoted field is never closed");
        assertFails("y_test.jsonl", "{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"answer\":0}\n{nope\n",
                "y_test.jsonl line 2: not JSON");
        assertFails("y_test.jsonl", "{\"question\":\"q\",\"choices\":[\"a\"],\"answer\":0}\n",
                "y_test.jsonl line 1: 1 choices; 2 to 10 are allowed");
        assertFails("y_test.jsonl", "{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"answer\":2}\n",
                "y_test.jsonl line 1: answer '2' is not one of A-B");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> McqSet.read(dir.resolve("nothing-here")));
        assertTrue(missing.getMessage().contains("does not exist"));
        Files.createDirectories(dir.resolve("empty"));
        assertThrows(IllegalArgumentException.class, () -> McqSet.read(dir.resolve("empty")));
    }

    private void assertFails(String name, String content, String message) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, content);
        McqFormatException e = assertThrows(McqFormatException.class, () -> McqSet.read(f));
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }
}
