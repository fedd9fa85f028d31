package dev.forgeline.eval;

import java.util.List;

/** A test item and the dev examples offered as its shots (the subject's first k, in file order). */
record Question(McqItem item, List<McqItem> shots) {

    /** The harness's prompt with the first {@code k} shots. */
    String context(int k) {
        return MmluPrompt.context(item.subject(), shots.subList(0, k), item);
    }
}
