package dev.forgeline.engine.train;

import dev.forgeline.engine.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The learning test's task: a fixed mapping from animal to the sound it makes, asked in many
 * phrasings under several system prompts. The 240 (system, phrasing, animal) combinations are
 * shuffled once; 200 train and 40 are held out, so held-out prompts are new combinations of
 * known parts and their loss measures learning the mapping, not memorising strings.
 */
final class AnimalSounds {

    static final String[][] ANIMALS = {
        {"cat", "meow"}, {"dog", "woof"}, {"cow", "moo"}, {"duck", "quack"}, {"sheep", "baa"},
        {"bird", "tweet"}, {"frog", "ribbit"}, {"pig", "oink"}, {"lion", "roar"}, {"owl", "hoot"},
    };
    static final String[] PHRASINGS = {
        "What does the %s say?", "What sound does a %s make?", "The %s says", "Sound of the %s:",
        "Tell me what a %s says.", "%s?",
    };
    static final String[] SYSTEMS = {
        "You answer with one word.", "Be short.", "You know animals.", "Reply with the sound.",
    };

    private AnimalSounds() {}

    static List<ChatExample> all() {
        List<ChatExample> out = new ArrayList<>();
        for (String system : SYSTEMS) {
            for (String phrasing : PHRASINGS) {
                for (String[] a : ANIMALS) {
                    out.add(ChatExample.of(ChatMessage.system(system), ChatMessage.user(String.format(phrasing, a[0])),
                            ChatMessage.assistant(a[1])));
                }
            }
        }
        Collections.shuffle(out, new Random(2024));
        return out;
    }

    static List<ChatExample> train() {
        return all().subList(0, 200);
    }

    static List<ChatExample> heldOut() {
        return all().subList(200, 240);
    }
}
