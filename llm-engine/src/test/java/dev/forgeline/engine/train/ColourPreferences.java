package dev.forgeline.engine.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The DPO learning test's preferences: asked about a thing, answer with a colour (chosen), not
 * with an animal (rejected). The 72 (phrasing, thing) prompts are shuffled once; 56 train and 16
 * are held out, so held-out prompts are new combinations of known parts.
 */
final class ColourPreferences {

    static final String[] COLOURS = {"red", "blue", "green", "yellow", "pink", "brown"};
    static final String[] ANIMALS = {"cat", "dog", "bird", "fish", "cow", "duck"};
    static final String[] THINGS = {"ball", "hat", "car", "box", "cup", "kite", "door", "bed", "tree", "boat", "cake", "shoe"};
    static final String[] PHRASINGS = {
        "Tell me about the %s.", "What is the %s like?", "Say a word about the %s.", "The %s is", "Describe the %s.",
        "One word for the %s:",
    };
    static final Set<String> COLOUR_SET = Set.of(COLOURS);

    private ColourPreferences() {}

    static List<PreferenceExample> all() {
        List<PreferenceExample> out = new ArrayList<>();
        for (int p = 0; p < PHRASINGS.length; p++) {
            for (int t = 0; t < THINGS.length; t++) {
                // The full stop gives the reply an end the model can learn: DPO masks EOS.
                out.add(PreferenceExample.of(String.format(PHRASINGS[p], THINGS[t]), COLOURS[(t + p) % COLOURS.length] + ".",
                        ANIMALS[(5 * t + p) % ANIMALS.length] + "."));
            }
        }
        Collections.shuffle(out, new Random(2026));
        return out;
    }

    static List<PreferenceExample> train() {
        return all().subList(0, 56);
    }

    static List<PreferenceExample> heldOut() {
        return all().subList(56, 72);
    }

    /** Whether an answer's first word is a colour (a whole word: "redic" is not). */
    static boolean namesColour(String answer) {
        String[] words = answer.strip().toLowerCase().split("[^a-z]+");
        return words.length > 0 && COLOUR_SET.contains(words[0]);
    }
}
