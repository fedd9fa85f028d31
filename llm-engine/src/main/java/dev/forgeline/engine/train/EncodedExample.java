package dev.forgeline.engine.train;

/**
 * One conversation as token ids. {@code target[i]} says whether token i is a training target,
 * i.e. whether the loss includes predicting it from the tokens before it.
 */
public record EncodedExample(int[] ids, boolean[] target) {

    public EncodedExample {
        if (ids.length != target.length) {
            throw new IllegalArgumentException(ids.length + " ids but " + target.length + " target flags");
        }
    }

    public int length() {
        return ids.length;
    }

    public int targetCount() {
        int n = 0;
        for (boolean t : target) {
            n += t ? 1 : 0;
        }
        return n;
    }
}
