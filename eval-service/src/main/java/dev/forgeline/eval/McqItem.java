package dev.forgeline.eval;

import java.util.List;

/**
 * One multiple-choice question.
 *
 * @param index  0-based position within its subject's split, in file order
 * @param answer 0-based index of the correct choice
 */
public record McqItem(String subject, int index, String question, List<String> choices, int answer) {
    public McqItem {
        choices = List.copyOf(choices);
    }
}
