package dev.forgeline.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.forgeline.engine.SharedData;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Incremental text and stop strings, on the stories260k tokenizer (SentencePiece-style, byte fallback). */
class TextStreamTest {

    @Test
    void streamedPiecesJoinToTheFullDecodeAndStopStringsCut() throws Exception {
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(
                SharedData.model("stories260k").resolve("tokenizer.json"), Map.of("truncation", "false"))) {
            TokenDecoder decoder = ids -> tok.decode(Arrays.stream(ids).asLongStream().toArray(), true);
            String prompt = "Once upon";
            String continuation = " a time, there was a dog named Max. He liked to run. The end. ❤ 😀 ok";
            int[] promptIds = ids(tok.encode(prompt, true, false).getIds());
            int[] all = ids(tok.encode(prompt + continuation, true, false).getIds());
            int[] generated = Arrays.copyOfRange(all, promptIds.length, all.length);

            TextStream plain = new TextStream(decoder, List.of(), promptIds);
            StringBuilder out = new StringBuilder();
            for (int id : generated) {
                String delta = plain.push(id);
                assertTrue(!delta.contains("\uFFFD"), "half a character was emitted: " + delta);
                out.append(delta);
            }
            out.append(plain.flush());
            assertEquals(continuation, out.toString());

            TextStream stopping = new TextStream(decoder, List.of("Max.", "zzz"), promptIds);
            StringBuilder cut = new StringBuilder();
            int pushed = 0;
            for (int id : generated) {
                cut.append(stopping.push(id));
                pushed++;
                if (stopping.stopped()) {
                    break;
                }
            }
            assertTrue(stopping.stopped());
            assertTrue(pushed < generated.length);
            assertEquals(" a time, there was a dog named ", cut.toString());
            assertEquals(cut.toString(), stopping.text());
        }
    }

    private static int[] ids(long[] ids) {
        return Arrays.stream(ids).mapToInt(l -> (int) l).toArray();
    }
}
